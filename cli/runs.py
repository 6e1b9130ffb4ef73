"""Starting and following runs: `run` and the live progress it prints."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError

from cli.diagnose import diagnose
from cli.errors import EXIT_BY_STATE, EXIT_FAILED, CliError
from cli.render import ProgressPrinter
from client.queries import QUERY_TIMEOUT, query
from client.runs import AgentClient
from core.config import Settings
from core.models import (
    AgentRequest,
    AgentResult,
    Escalation,
    PendingApproval,
    ProgressPage,
    RunState,
    RunStatus,
)
from core.progress import ProgressEvent
from workflows.agent import AgentWorkflow

# How often a run that does not move is diagnosed, and after how long without a new event.
EXPLAIN_S = 3.0
STILL_S = 20.0
# A step shows within one interval (the 1 s target, with room for the query's own round trip).
POLL_SECONDS = 0.3
Emit = Callable[[str], None]
OnPending = Callable[[WorkflowHandle[Any, Any], PendingApproval], Awaitable[None]]
OnEscalated = Callable[[WorkflowHandle[Any, Any], Escalation], Awaitable[None]]
# Called with each progress event and the moment it was shown (the latency bench uses it).
Observe = Callable[[ProgressEvent, datetime], None]


@dataclass(frozen=True)
class RunOutcome:
    code: int
    data: dict[str, Any]


def build_request(task: str, user: str, agent: str | None = None) -> AgentRequest:
    try:
        return AgentRequest(task=task, user_id=user, agent=agent)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CliError("InvalidInputError", f"invalid run request: {problems}") from None


async def start(
    client: Client, settings: Settings, request: AgentRequest, run_id: str | None
) -> WorkflowHandle[Any, Any]:
    """Start a run, or attach to the run that already has this id (running or finished)."""
    try:
        return await AgentClient(client, settings.task_queue).start(request, workflow_id=run_id)
    except RPCError as exc:
        raise CliError("TemporalError", f"could not start the run: {exc.message}", EXIT_FAILED) from None


async def query_status(handle: WorkflowHandle[Any, Any]) -> RunStatus | None:
    """The run's live status, or None while no worker can answer the query."""
    try:
        status: RunStatus = await query(handle, AgentWorkflow.status)
        return status
    except (RPCError, WorkflowQueryFailedError):
        # No worker polls the queue, or the run's code differs from the worker's (an older version).
        return None


async def query_progress(handle: WorkflowHandle[Any, Any], since: int) -> ProgressPage | None:
    """Step events from `since` on, or None while no worker can answer the query. Asked once: the
    follow loop asks again, and a None is what tells it soon that nobody polls the queue."""
    try:
        page: ProgressPage = await handle.query(AgentWorkflow.progress, since, rpc_timeout=QUERY_TIMEOUT)
        return page
    except (RPCError, WorkflowQueryFailedError):
        return None


async def follow(
    handle: WorkflowHandle[Any, Any],
    emit: Emit,
    on_pending: OnPending | None = None,
    on_escalated: OnEscalated | None = None,
    observe: Observe | None = None,
    client: Client | None = None,
) -> AgentResult:
    """Print each step as it starts and ends until the run finishes; return its result.

    Polls the `progress` query with a cursor: each answer holds only the new events, so a poll
    costs the same at turn 90 as at turn 1, and a step shows within one poll interval.
    """
    follower = _Follower(handle, emit, on_pending, on_escalated, observe, client)
    result_task = asyncio.ensure_future(handle.result())
    while not result_task.done():
        await follower.poll()
        await asyncio.wait({result_task}, timeout=POLL_SECONDS)
    await follower.poll()  # the last steps, recorded between the final poll and the result
    try:
        return result_task.result()
    except WorkflowFailureError as exc:
        raise CliError("WorkflowFailed", f"run {handle.id} failed: {exc.cause}", EXIT_FAILED) from None


@dataclass
class _Follower:
    handle: WorkflowHandle[Any, Any]
    emit: Emit
    on_pending: OnPending | None
    on_escalated: OnEscalated | None
    observe: Observe | None
    client: Client | None = None  # with one, a run that does not move says why (cli/diagnose.py)
    cursor: int = 0
    waiting_noted: bool = False
    explained: str | None = None
    explained_at: float = 0.0
    moved_at: float = field(default_factory=time.monotonic)
    handled: set[str] = field(default_factory=set)
    escalations_seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.printer = ProgressPrinter(self.handle.id, show_commands=self.on_pending is None)

    async def poll(self) -> None:
        page = await query_progress(self.handle, self.cursor)
        if page is None:
            if not await self._explain() and not self.waiting_noted:
                self.emit("  (no progress yet: waiting for a worker that can answer for this run…)")
                self.waiting_noted = True
            return
        if page.events:
            self.moved_at, self.explained = time.monotonic(), None
        elif time.monotonic() - self.moved_at > STILL_S and page.state == RunState.RUNNING:
            await self._explain()
        if page.next_seq < self.cursor:  # a chain from before numbering went on across runs
            self.cursor = 0
            page = await query_progress(self.handle, 0) or page
        for event in page.events:
            for line in self.printer.lines(page, event):
                self.emit(line)
            if self.observe is not None:
                self.observe(event, datetime.now(UTC))
        self.cursor = page.next_seq
        for item in page.pending:
            if self.on_pending is not None and item.call_id not in self.handled:
                self.handled.add(item.call_id)
                await self.on_pending(self.handle, item)
        await self._escalation(page.escalation)

    async def _explain(self) -> bool:
        """Print why the run is not moving, once per reason, at most every EXPLAIN_S; True if known."""
        if self.client is None:
            return False
        if time.monotonic() - self.explained_at < EXPLAIN_S:
            return self.explained is not None
        self.explained_at = time.monotonic()
        try:
            found = await diagnose(self.client, self.handle)
        except RPCError:
            return False
        if found is not None and found.message != self.explained:
            self.emit(f"  (not moving: {found.message})")
        self.explained = found.message if found is not None else None
        return found is not None

    async def _escalation(self, escalated: Escalation | None) -> None:
        if escalated is None or escalated.since.isoformat() in self.escalations_seen:
            return
        self.escalations_seen.add(escalated.since.isoformat())
        self.emit(f"  ⇪ escalated to a human ({escalated.trigger}): {escalated.reason}")
        self.emit(f"    ticket {escalated.ticket_id}; reply before {escalated.deadline} with:")
        self.emit(f'      python starter.py reply {self.handle.id} "YOUR ANSWER" --by YOUR_NAME [--resume]')
        if self.on_escalated is not None:
            await self.on_escalated(self.handle, escalated)


def outcome_of(result: AgentResult, settings: Settings) -> RunOutcome:
    data = result.model_dump(mode="json")
    data["ui_url"] = f"{settings.ui_url}/namespaces/{settings.namespace}/workflows/{result.workflow_id}"
    return RunOutcome(code=EXIT_BY_STATE[result.status], data=data)


def render_result(data: dict[str, Any]) -> list[str]:
    usage = data["usage"]
    return [
        "",
        f"status:   {data['status']}" + (f" ({data['stop_reason']})" if data.get("stop_reason") else ""),
        f"answer:   {data['answer']}",
        f"turns:    {data['turns']}, tool calls: {len(data['tool_calls'])}, "
        f"tokens: {usage['prompt_tokens']}+{usage['completion_tokens']}, cost: ${data['cost_usd']:.4f}",
        f"workflow: {data['workflow_id']}",
        f"UI:       {data['ui_url']}",
    ]
