"""Our agent under the same faults: AgentWorkflow on a real Temporal server, with a fault-wrapped worker.

Retries are counted from each run's history: Temporal writes one ActivityTaskStarted per activity
execution, carrying the final attempt number, so `attempt - 1` retries happened; they were useful when
the activity then completed and wasted when it failed anyway.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import ActivityTaskStartedEventAttributes, HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Worker

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import Policy, ScriptBook, ScriptedTransport
from bench.agents import BENCH
from bench.faults import Attempt, FaultPlan, FaultyModel, faulty_registry
from bench.report import RetryRecord, TaskRecord, failure_reason
from bench.tasks import BenchPolicy, BenchTask
from core.agent import Agent
from core.models import AgentLimits, AgentRequest, AgentResult, ToolOutcome
from worker import build_worker
from workflows.agent import AgentWorkflow

STEP_CAP = 10


def _failure_type(failure: Failure) -> str:
    if failure.HasField("application_failure_info") and failure.application_failure_info.type:
        return failure.application_failure_info.type
    return "TransientError"  # timeouts and unclassified failures are retried as transient


_ENDS = (
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
)


def activity_retries(history: WorkflowHistory) -> Iterator[RetryRecord]:
    """One record per retry Temporal made, useful when that activity finally completed."""
    scheduled: dict[int, str] = {}
    started: dict[int, ActivityTaskStartedEventAttributes] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            sched = event.activity_task_scheduled_event_attributes
            scheduled[event.event_id] = f"{sched.activity_type.name}#{_call_id(sched) or sched.activity_id}"
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            start = event.activity_task_started_event_attributes
            started[start.scheduled_event_id] = start
        elif event.event_type in _ENDS:
            sched_id = _scheduled_id(event)
            last = started.get(sched_id)
            if last is None or last.attempt <= 1:
                continue
            name = scheduled.get(sched_id, "?")
            ok = event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
            error_type = _failure_type(last.last_failure)
            for _ in range(last.attempt - 1):
                yield RetryRecord(call=name, tool=name.split("#")[0], error_type=error_type, useful=ok)


def _call_id(attrs: Any) -> str | None:
    """The agent's call id (`t2-1`) from a tool activity's input; None for other activities."""
    try:
        data = json.loads(attrs.input.payloads[0].data)
    except (IndexError, ValueError):
        return None
    call_id = data.get("call_id") if isinstance(data, dict) else None
    return call_id if isinstance(call_id, str) else None


def _scheduled_id(event: HistoryEvent) -> int:
    for field in (
        "activity_task_completed_event_attributes",
        "activity_task_failed_event_attributes",
        "activity_task_timed_out_event_attributes",
    ):
        if event.HasField(field):
            return int(getattr(event, field).scheduled_event_id)
    return -1


def _label_retries(retries: list[RetryRecord], attempts: list[Attempt]) -> list[RetryRecord]:
    """Replace the history's last-failure class with each attempt's own class, from the tool side."""
    by_call: dict[str, list[str]] = {}
    for a in sorted(attempts, key=lambda a: a.attempt):
        if a.error_type is not None:
            by_call.setdefault(a.call_id, []).append(a.error_type)
    out: list[RetryRecord] = []
    seen: Counter[str] = Counter()
    for r in retries:
        call_id = r.call.split("#")[-1]
        classes = by_call.get(call_id, [])
        index = seen[call_id]
        seen[call_id] += 1
        out.append(r.model_copy(update={"error_type": classes[index]}) if index < len(classes) else r)
    return out


def to_record(
    task: BenchTask,
    plan: FaultPlan,
    result: AgentResult,
    history: WorkflowHistory,
    attempts: list[Attempt],
    ms: float,
    arm: str = "temporal",
) -> TaskRecord:
    errors: Counter[str] = Counter(a.error_type for a in attempts if a.error_type is not None)
    errors.update(
        c.error_type for c in result.tool_calls if c.outcome == ToolOutcome.REJECTED and c.error_type
    )
    last_error = next((c.error_type for c in reversed(result.tool_calls) if c.error_type), None)
    status = result.status.value
    return TaskRecord(
        agent=arm,
        hallucination_rate=plan.hallucination_rate,
        task_id=task.task_id,
        kind=task.kind,
        success=status == "completed" and task.expected in result.answer,
        status=status,
        failure_reason=failure_reason(status, result.answer, task.expected, last_error),
        steps=result.turns,
        latency_ms=ms,
        tokens=result.usage.total,
        retries=_label_retries(list(activity_retries(history)), attempts),
        errors=dict(errors),
        answer=result.answer,
        degraded=sum(
            c.outcome == ToolOutcome.OK and '"degraded": true' in c.observation for c in result.tool_calls
        ),
        workflow_id=result.workflow_id,
    )


def bench_worker(
    client: Client,
    queue: str,
    plan: FaultPlan,
    attempts: list[Attempt],
    agent: Agent[None] = BENCH,
    model: Policy | None = None,
) -> Worker:
    """The worker of worker.build_worker, with the bench tools wrapped in the fault plan; the model is
    the competent bench model with the plan's hallucinations (a planner's, in plan mode)."""
    model = model or FaultyModel(BenchPolicy(), plan)
    provider = OpenAIProvider(
        "http://scripted.invalid/v1",
        default_model="scripted",
        transport=ScriptedTransport(ScriptBook({}, model)),
    )
    faulty = dataclasses.replace(agent, tools=tuple(faulty_registry(agent.registry, plan, attempts)))
    return build_worker(client, queue, [faulty], provider, {})


async def run_ours(
    client: Client,
    tasks: list[BenchTask],
    plan: FaultPlan,
    concurrency: int,
    agent: Agent[None] = BENCH,
    model: Policy | None = None,
) -> list[TaskRecord]:
    """Every task as an AgentWorkflow run of `agent` (ReAct, or plan mode when its definition says so)."""
    arm = "temporal" if agent.mode == "react" else "plan"
    tag = uuid.uuid4().hex[:6]
    queue = f"bench-{tag}"
    attempts: list[Attempt] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(task: BenchTask) -> TaskRecord:
        async with gate:
            prefix = "bench" if arm == "temporal" else "bench-plan"
            workflow_id = f"{prefix}-h{round(plan.hallucination_rate * 100)}-{tag}-{task.task_id}"
            request = AgentRequest(
                task=task.prompt, user_id="bench", agent=agent.name, limits=AgentLimits(max_turns=STEP_CAP)
            )
            started = time.perf_counter()
            handle = await client.start_workflow(AgentWorkflow.run, request, id=workflow_id, task_queue=queue)
            result = await handle.result()
            ms = (time.perf_counter() - started) * 1000
            history = await handle.fetch_history()
        mine = [a for a in attempts if a.workflow_id == workflow_id]
        return to_record(task, plan, result, history, mine, ms, arm)

    async with bench_worker(client, queue, plan, attempts, agent, model):
        return list(await asyncio.gather(*(one(task) for task in tasks)))
