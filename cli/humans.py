"""Commands for the humans in the loop: `reply` to an escalation and `pending` across the namespace."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError

from cli.errors import EXIT_FAILED, CliError
from cli.runs import query_status
from client.queries import query
from core import search_attributes as sa
from core.conversation import ConversationResult
from core.models import HumanReplySignal, PendingApproval, RunState
from workflows.agent import AgentWorkflow
from workflows.conversation import ConversationWorkflow

CONVERSATION = "ConversationWorkflow"  # listed too once a call of theirs waits (AgentStatus)

# Visibility query for every run that waits on a person (search attributes: docs/architecture.md).
WAITING_QUERY = (
    f"ExecutionStatus = 'Running' AND ({sa.AGENT_STATUS.name} = '{RunState.AWAITING_APPROVAL.value}' "
    f"OR {sa.AGENT_STATUS.name} = '{RunState.ESCALATED.value}')"
)


async def reply(handle: WorkflowHandle[Any, Any], by: str, text: str, resume: bool) -> dict[str, Any]:
    """Answer an escalation, and read back from the audit trail whether the run took the reply."""
    status = await query_status(handle)
    if status is None:
        raise CliError("WorkerUnavailable", f"no worker answered for run {handle.id}", EXIT_FAILED)
    if status.state != RunState.ESCALATED:
        raise CliError(
            "NotEscalatedError", f"run {handle.id} is {status.state.value}, not waiting for a reply"
        )
    signal = HumanReplySignal(responder=by, text=text, resume=resume)
    try:
        await handle.signal(AgentWorkflow.human_reply, signal)
    except RPCError as exc:
        raise CliError(
            "TemporalError", f"could not signal run {handle.id}: {exc.message}", EXIT_FAILED
        ) from None
    before = len(status.audit)
    for _ in range(50):
        after = await query_status(handle)
        fresh = after.audit[before:] if after else ()
        for entry in fresh:
            if entry.event == "human_reply":
                return {"workflow_id": handle.id, "replied_by": by, "resume": resume}
            if entry.event == "rejected" and entry.call_id == "human_reply":
                raise CliError("ReplyRejected", f"the run rejected the reply: {entry.reason}")
        await asyncio.sleep(0.1)
    raise CliError("TemporalError", f"run {handle.id} did not confirm the reply within 5 s", EXIT_FAILED)


async def pending(client: Client) -> list[dict[str, Any]]:
    """Every run awaiting a human, with what it waits for (details need a worker; state does not)."""
    rows: list[dict[str, Any]] = []
    async for execution in client.list_workflows(WAITING_QUERY):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        attrs = execution.typed_search_attributes
        row: dict[str, Any] = {
            "workflow_id": execution.id,
            "state": attrs.get(sa.AGENT_STATUS),
            "user": attrs.get(sa.AGENT_USER),
            "started": execution.start_time.isoformat() if execution.start_time else None,
        }
        if execution.workflow_type == CONVERSATION:  # a call of a message waits: no escalation shown
            row["thread"] = True
            pending = await _conversation_pending(client, execution.id)
            if pending is not None:
                row["approvals"] = [_approval_row(p.model_dump(mode="json"), p.requested_at) for p in pending]
            rows.append(row)
            continue
        status = await query_status(handle)
        if status is not None:
            row["state"] = status.state.value
            row["approvals"] = [
                _approval_row(p.model_dump(mode="json"), p.requested_at) for p in status.pending
            ]
            if status.escalation is not None:
                row["escalation"] = status.escalation.model_dump(mode="json")
        rows.append(row)
    return rows


async def _conversation_pending(client: Client, thread_id: str) -> tuple[PendingApproval, ...] | None:
    """The calls pending in a conversation, or None while no worker answers its query."""
    try:
        handle: WorkflowHandle[ConversationWorkflow, ConversationResult] = client.get_workflow_handle_for(
            ConversationWorkflow.run, thread_id
        )
        status = await query(handle, ConversationWorkflow.status)
    except (RPCError, WorkflowQueryFailedError):
        return None
    return status.pending


def _approval_row(item: dict[str, Any], requested_at: datetime) -> dict[str, Any]:
    age = datetime.now(UTC) - requested_at
    return {
        "call_id": item["call_id"],
        "tool": item["tool"],
        "args": item["args"],
        "args_sha256": item["args_sha256"],
        "age_s": round(age.total_seconds()),
        "deadline": item["deadline"],
        "overdue_soon": item["reminded"],
    }


def render_pending(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return ["no run is waiting for a human"]
    lines = []
    for row in rows:
        lines.append(f"{row['workflow_id']}: {row['state']} (user {row.get('user')})")
        for item in row.get("approvals", ()):
            soon = "  OVERDUE SOON" if item["overdue_soon"] else ""
            lines.append(
                f"  approve? {item['call_id']} {item['tool']} {item['args']} "
                f"age {item['age_s']} s, deadline {item['deadline']}{soon}"
            )
        if "escalation" in row:
            esc = row["escalation"]
            lines.append(f"  escalated ({esc['trigger']}): {esc['reason']}; ticket {esc['ticket_id']}")
    return lines
