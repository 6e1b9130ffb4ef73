"""`starter.py evals schedule`: the agent's daily eval as a Temporal Schedule (visible in the UI)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleSpec,
)

from evals.suite_models import EvalSuiteRequest
from evals.suite_workflow import EvalSuiteWorkflow

DAILY = timedelta(days=1)


async def create_schedule(
    client: Client, task_queue: str, request: EvalSuiteRequest, every: timedelta = DAILY
) -> dict[str, Any]:
    """The agent's eval schedule; created twice, it stays one (the second reports that it exists)."""
    schedule_id = f"evals-{request.agent}"
    action = ScheduleActionStartWorkflow(
        EvalSuiteWorkflow.run, request, id=f"evals-{request.agent}-run", task_queue=task_queue
    )
    schedule = Schedule(action=action, spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]))
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        return {"schedule_id": schedule_id, "created": False}
    return {"schedule_id": schedule_id, "created": True}
