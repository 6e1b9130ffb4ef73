"""The histories of every run of one conversation, oldest first (continue-as-new makes one a run)."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory


async def chain(client: Client, thread_id: str, first_run_id: str | None) -> list[WorkflowHistory]:
    """Follows each run's ContinuedAsNew event to the next run, from the first."""
    histories: list[WorkflowHistory] = []
    run_id = first_run_id
    while run_id:
        history = await client.get_workflow_handle(thread_id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        continued = last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        attributes = last.workflow_execution_continued_as_new_event_attributes
        run_id = attributes.new_execution_run_id if continued else None
    return histories


def scheduled(histories: list[WorkflowHistory]) -> list[str]:
    """Activity types scheduled across the runs, in order."""
    return [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for history in histories
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
