"""Why a run is not moving, from what the server alone knows: no worker, a failing task, or a human.

Used by `status` and by `run`'s live progress when the run's own query cannot answer (no worker, or
its workflow task fails on every attempt), or when nothing happened for a while.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from temporalio.api.enums.v1 import EventType, PendingActivityState, TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    GetWorkflowExecutionHistoryReverseRequest,
)
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowHandle
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError

from core import search_attributes as sa
from core.models import RunState

# A worker long-polls for a minute at a time: older than this, its last poll means it is gone.
POLLER_FRESH = timedelta(seconds=70)
REPORTED_PROBLEMS = SearchAttributeKey.for_keyword_list("TemporalReportedProblems")
HUMAN_STATES = (RunState.AWAITING_APPROVAL.value, RunState.ESCALATED.value)


class Stall(StrEnum):
    NO_WORKER = "no_worker"
    TASK_FAILING = "task_failing"
    AWAITING_HUMAN = "awaiting_human"
    ACTIVITY_RETRYING = "activity_retrying"


@dataclass(frozen=True)
class Diagnosis:
    stall: Stall
    message: str
    problems: tuple[str, ...] = ()
    last_failure: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, ())}


async def diagnose(client: Client, handle: WorkflowHandle[Any, Any]) -> Diagnosis | None:
    """Why the running run is not moving, or None when nothing stands in its way."""
    desc = await handle.describe()
    queue = desc.task_queue
    pending = desc.raw_description.pending_workflow_task
    problems = reported_problems(desc)
    if pending.attempt > 1 or any("WorkflowTaskFailed" in p for p in problems):
        failure = await last_task_failure(client, handle)
        message = f"the run's workflow task is failing (attempt {pending.attempt or '?'})"
        if failure:
            message += f": {failure}"
        return Diagnosis(Stall.TASK_FAILING, message, problems, failure)
    if not await has_fresh_poller(client, queue):
        return Diagnosis(
            Stall.NO_WORKER, f"no worker is polling task queue {queue!r}; start one (make worker)"
        )
    state = desc.typed_search_attributes.get(sa.AGENT_STATUS)
    if state in HUMAN_STATES:
        what = "an approval" if state == RunState.AWAITING_APPROVAL.value else "a reply to its escalation"
        return Diagnosis(Stall.AWAITING_HUMAN, f"the run is waiting for a human: {what}")
    return retrying_activity(desc)


def reported_problems(desc: WorkflowExecutionDescription) -> tuple[str, ...]:
    """The server's own account (`TemporalReportedProblems`), e.g. `category=WorkflowTaskFailed`."""
    value = desc.typed_search_attributes.get(REPORTED_PROBLEMS) or ()
    return tuple(str(v) for v in value)


async def last_task_failure(client: Client, handle: WorkflowHandle[Any, Any]) -> str | None:
    """The message of the newest failed workflow task in the run's history."""
    request = GetWorkflowExecutionHistoryReverseRequest(namespace=client.namespace, maximum_page_size=50)
    request.execution.workflow_id = handle.id
    try:
        reply = await client.workflow_service.get_workflow_execution_history_reverse(request)
    except RPCError:
        return None
    for event in reply.history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            failure = event.workflow_task_failed_event_attributes.failure
            return " ".join(failure.message.split())[:500] or None
    return None


async def has_fresh_poller(client: Client, queue: str) -> bool:
    """Whether a worker polled the run's workflow task queue within POLLER_FRESH."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    try:
        reply = await client.workflow_service.describe_task_queue(request)
    except RPCError:
        return True  # cannot tell: say nothing rather than something wrong
    now = datetime.now(UTC)
    return any(now - p.last_access_time.ToDatetime(tzinfo=UTC) < POLLER_FRESH for p in reply.pollers)


def retrying_activity(desc: WorkflowExecutionDescription) -> Diagnosis | None:
    """An activity that failed and waits for its next attempt, with its last failure."""
    for activity in desc.raw_description.pending_activities:
        if activity.attempt > 1 and activity.state != PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
            failure = " ".join(activity.last_failure.message.split())[:300] or None
            message = f"{activity.activity_type.name} waits for attempt {activity.attempt}"
            return Diagnosis(Stall.ACTIVITY_RETRYING, message + (f" (last: {failure})" if failure else ""))
    return None
