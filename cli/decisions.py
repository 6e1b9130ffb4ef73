"""Human decisions over signals: approve, deny, cancel, and the status they act on."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from cli.errors import EXIT_FAILED, CliError, run_unreadable
from cli.runs import query_status
from core.models import (
    AgentResult,
    ApproveSignal,
    AuditEntry,
    CancelSignal,
    DenySignal,
    PendingApproval,
    RunStatus,
)
from workflows.agent import AgentWorkflow


async def existing_handle(client: Client, workflow_id: str) -> WorkflowHandle[Any, Any]:
    """A handle to a run that exists, or a clear error naming the id."""
    handle = client.get_workflow_handle(workflow_id, result_type=AgentResult)
    try:
        await handle.describe()
    except RPCError as exc:
        raise run_unreadable(exc, workflow_id) from None
    return handle


async def live_status(handle: WorkflowHandle[Any, Any]) -> RunStatus:
    status = await query_status(handle)
    if status is None:
        raise CliError(
            "WorkerUnavailable",
            f"no worker answered for run {handle.id}; start one with `make worker`",
            EXIT_FAILED,
        )
    return status


def pick_pending(status: RunStatus, call_id: str | None) -> PendingApproval:
    """The pending call a decision is about: the one named, or the only one."""
    if not status.pending:
        raise CliError("NotPendingError", f"run {status.workflow_id} has no call waiting for approval")
    if call_id is None:
        if len(status.pending) > 1:
            ids = ", ".join(p.call_id for p in status.pending)
            raise CliError("AmbiguousCallError", f"several calls are pending ({ids}); pass --call")
        return status.pending[0]
    for item in status.pending:
        if item.call_id == call_id:
            return item
    ids = ", ".join(p.call_id for p in status.pending)
    raise CliError(
        "NotPendingError", f"call {call_id} is not pending in run {status.workflow_id} (pending: {ids})"
    )


async def _signal_and_confirm(
    handle: WorkflowHandle[Any, Any], signal: Any, payload: ApproveSignal | DenySignal, before: int
) -> AuditEntry:
    """Send a decision and read back, from the audit trail, whether the run accepted it."""
    try:
        await handle.signal(signal, payload)
    except RPCError as exc:
        raise CliError(
            "TemporalError", f"could not signal run {handle.id}: {exc.message}", EXIT_FAILED
        ) from None
    for _ in range(50):
        status = await query_status(handle)
        fresh = [a for a in (status.audit if status else ())[before:] if a.call_id == payload.call_id]
        decided = [a for a in fresh if a.event != "requested"]
        if decided:
            entry = decided[-1]
            if entry.event == "rejected":
                raise CliError("DecisionRejected", f"the run rejected the decision: {entry.reason}")
            return entry
        await asyncio.sleep(0.1)
    raise CliError("TemporalError", f"run {handle.id} did not confirm the decision within 5 s", EXIT_FAILED)


async def approve(
    handle: WorkflowHandle[Any, Any], call_id: str | None, by: str, reason: str | None
) -> dict[str, Any]:
    status = await live_status(handle)
    item = pick_pending(status, call_id)
    # Bind the approval to the exact arguments the approver was shown.
    signal = ApproveSignal(call_id=item.call_id, approver=by, reason=reason, args_sha256=item.args_sha256)
    entry = await _signal_and_confirm(handle, AgentWorkflow.approve, signal, len(status.audit))
    return {
        "workflow_id": handle.id,
        "call_id": item.call_id,
        "tool": item.tool,
        "args": item.args,
        "decision": entry.event,
        "by": by,
    }


async def deny(handle: WorkflowHandle[Any, Any], call_id: str | None, by: str, reason: str) -> dict[str, Any]:
    status = await live_status(handle)
    item = pick_pending(status, call_id)
    signal = DenySignal(call_id=item.call_id, approver=by, reason=reason)
    entry = await _signal_and_confirm(handle, AgentWorkflow.deny, signal, len(status.audit))
    return {
        "workflow_id": handle.id,
        "call_id": item.call_id,
        "tool": item.tool,
        "decision": entry.event,
        "by": by,
    }


async def cancel(handle: WorkflowHandle[Any, Any], by: str, reason: str) -> dict[str, Any]:
    try:
        await handle.signal(AgentWorkflow.cancel, CancelSignal(by=by, reason=reason))
    except RPCError as exc:
        raise CliError(
            "TemporalError", f"could not cancel run {handle.id}: {exc.message}", EXIT_FAILED
        ) from None
    return {"workflow_id": handle.id, "cancel_requested_by": by}
