"""Model calls in flight and their fate: which worker holds a run's `llm.complete`, and when it ended.

Both come from Temporal's own record rather than from the workers: a pending activity names the
worker that started it (its identity), and the run's history says when the activity completed, on
which attempt and on which worker. So a kill is known to land on the worker that holds the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowHandle

LLM_COMPLETE = "llm.complete"
RPC_TIMEOUT = timedelta(seconds=5)


@dataclass(frozen=True)
class HeldCall:
    """A started `llm.complete` attempt and the worker that holds it."""

    workflow_id: str
    run_id: str
    activity_id: str
    attempt: int
    identity: str  # `pid@host` unless the worker was given another


@dataclass(frozen=True)
class CallEnd:
    completed_at: float  # Unix seconds, the server's clock (the same machine as the bench)
    attempt: int
    identity: str
    started_at: float = 0.0  # when the attempt that completed started
    resumed_at: float | None = None  # the next completed workflow task: the run acted on the answer


async def held_call(handle: WorkflowHandle[Any, Any]) -> HeldCall | None:
    """The run's `llm.complete` that a worker has started and not finished, if any."""
    description = await handle.describe(rpc_timeout=RPC_TIMEOUT)
    for info in description.raw_description.pending_activities:
        started = info.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
        if info.activity_type.name == LLM_COMPLETE and started and info.last_worker_identity:
            return HeldCall(
                handle.id, description.run_id, info.activity_id, info.attempt, info.last_worker_identity
            )
    return None


async def pending(handle: WorkflowHandle[Any, Any], activity_id: str) -> Any | None:
    """The run's PendingActivityInfo for that activity while it still waits on it, else None."""
    description = await handle.describe(rpc_timeout=RPC_TIMEOUT)
    infos = description.raw_description.pending_activities
    return next((info for info in infos if info.activity_id == activity_id), None)


async def call_end(client: Client, call: HeldCall) -> CallEnd | None:
    """When that activity completed, and where: its ActivityTaskCompleted and the attempt's start event.

    Temporal writes a retried activity's started event once, for the attempt that finished, so the
    attempt and identity there are the ones that completed it. None if it never completed.
    """
    handle = client.get_workflow_handle(call.workflow_id, run_id=call.run_id)
    history = await handle.fetch_history(rpc_timeout=RPC_TIMEOUT)
    scheduled: int | None = None
    attempt, identity, started_at, completed = 0, "", 0.0, None
    for event in history.events:
        at = event.event_time.ToDatetime(tzinfo=UTC).timestamp()
        if event.HasField("activity_task_scheduled_event_attributes"):
            if event.activity_task_scheduled_event_attributes.activity_id == call.activity_id:
                scheduled = event.event_id
        elif event.HasField("activity_task_started_event_attributes"):
            started = event.activity_task_started_event_attributes
            if started.scheduled_event_id == scheduled:
                attempt, identity, started_at = started.attempt, started.identity, at
        elif event.HasField("activity_task_completed_event_attributes"):
            if event.activity_task_completed_event_attributes.scheduled_event_id == scheduled:
                completed = at
        elif event.HasField("workflow_task_completed_event_attributes") and completed is not None:
            return CallEnd(completed, attempt, identity, started_at, resumed_at=at)
    return None if completed is None else CallEnd(completed, attempt, identity, started_at)
