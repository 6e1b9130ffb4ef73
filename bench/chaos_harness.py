"""The chaos suite's client side: start every run, approve its refund, answer its escalation, wait."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError, RPCStatusCode

from bench.chaos_store import Case
from core.models import AgentLimits, AgentRequest, AgentResult, ApproveSignal, HumanReplySignal
from workflows.agent import AgentWorkflow

APPROVER = "chaos-harness"
POLL_S = 1.0
RPC_TIMEOUT = timedelta(seconds=5)
ENDED_BADLY = {
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
    WorkflowExecutionStatus.CANCELED: "canceled",
}


@dataclass
class Outcome:
    case: Case
    state: str = "stuck"  # completed | lost | stuck | failed | ...
    status: str | None = None  # the agent's RunState when completed
    detail: str | None = None  # why, when that state is not "completed" (the agent's stop reason)
    finished_at: float | None = None
    approvals_sent: int = 0
    replies_sent: int = 0


@dataclass
class Harness:
    address: str
    queue: str
    deadline: float
    client: Client | None = None
    approved: asyncio.Event = field(default_factory=asyncio.Event)
    rpc_errors: int = 0

    async def connect(self) -> Client:
        while self.client is None:
            try:
                self.client = await Client.connect(
                    self.address, data_converter=pydantic_data_converter, runtime=_quiet_runtime()
                )
            except Exception:
                await asyncio.sleep(0.5)
        return self.client

    async def drive(self, case: Case) -> Outcome:
        """Start (or join) the run, then play the human until it ends or the deadline passes."""
        outcome = Outcome(case)
        handle = await self._start(case)
        while time.monotonic() < self.deadline:
            try:
                done = await self._step(handle, outcome)
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    outcome.state = "lost"
                    return outcome
                self.rpc_errors += 1
                done = False
            except Exception:
                self.rpc_errors += 1
                done = False
            if done:
                outcome.finished_at = time.monotonic()
                return outcome
            await asyncio.sleep(POLL_S)
        return outcome

    async def _start(self, case: Case) -> WorkflowHandle[Any, AgentResult]:
        request = AgentRequest(task=case.task, user_id="chaos", limits=AgentLimits(max_turns=8))
        while True:
            client = await self.connect()
            try:
                # Retried across the server restart: a second start of the same id joins the first run.
                return await client.start_workflow(
                    AgentWorkflow.run,
                    request,
                    id=case.workflow_id,
                    task_queue=self.queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                    rpc_timeout=RPC_TIMEOUT,
                )
            except Exception:
                self.rpc_errors += 1
                await asyncio.sleep(0.5)

    async def _step(self, handle: WorkflowHandle[Any, AgentResult], outcome: Outcome) -> bool:
        description = await handle.describe(rpc_timeout=RPC_TIMEOUT)
        if description.status == WorkflowExecutionStatus.COMPLETED:
            result = await handle.result(rpc_timeout=RPC_TIMEOUT)
            outcome.state, outcome.status = "completed", result.status.value
            if result.status.value != "completed":
                outcome.detail = f"{result.stop_reason}: {result.answer[:240]}"
            return True
        if description.status in ENDED_BADLY:
            outcome.state = ENDED_BADLY[description.status]
            return True
        state = _agent_status(description.raw_description)
        if state in ("awaiting_approval", "escalated"):
            await self._play_human(handle, outcome)
        return False

    async def _play_human(self, handle: WorkflowHandle[Any, AgentResult], outcome: Outcome) -> None:
        status = await handle.query(AgentWorkflow.status, rpc_timeout=RPC_TIMEOUT)
        for item in status.pending:
            # Sent again on every poll while pending: duplicated approvals must have one effect.
            signal = ApproveSignal(call_id=item.call_id, approver=APPROVER, args_sha256=item.args_sha256)
            await handle.signal(AgentWorkflow.approve, signal, rpc_timeout=RPC_TIMEOUT)
            outcome.approvals_sent += 1
            self.approved.set()
        if status.state.value == "escalated":
            reply = HumanReplySignal(responder=APPROVER, text="Called the merchant; the case is resolved.")
            await handle.signal(AgentWorkflow.human_reply, reply, rpc_timeout=RPC_TIMEOUT)
            outcome.replies_sent += 1


def _quiet_runtime() -> Runtime:
    """Core's retry warnings are expected while the server restarts: keep the table readable."""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))


def _agent_status(raw: Any) -> str | None:
    """AgentStatus from the search attributes, read without a worker (queries need one)."""
    field_ = raw.workflow_execution_info.search_attributes.indexed_fields.get("AgentStatus")
    if field_ is None:
        return None
    value = pydantic_data_converter.payload_converter.from_payloads([field_])[0]
    return str(value)


async def attempts_of(client: Client, workflow_id: str) -> dict[str, int]:
    """Highest attempt per activity type, and workflow-task timeouts, from the run's history."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    scheduled: dict[int, str] = {}
    worst: dict[str, int] = {"workflow_task_timeouts": 0}
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
        elif event.HasField("activity_task_started_event_attributes"):
            attrs = event.activity_task_started_event_attributes
            name = scheduled.get(attrs.scheduled_event_id, "?")
            worst[name] = max(worst.get(name, 0), attrs.attempt)
        elif event.HasField("workflow_task_timed_out_event_attributes"):
            worst["workflow_task_timeouts"] += 1
    return worst
