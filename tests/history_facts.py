"""Facts read from a workflow history, so tests assert what Temporal recorded, not what we hoped."""

from __future__ import annotations

from collections import Counter

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory


def scheduled_activities(history: WorkflowHistory) -> list[str]:
    """Activity types in the order they were scheduled."""
    return [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]


def attempts_by_activity(history: WorkflowHistory) -> Counter[str]:
    """Total attempts per activity type (the started event of each activity carries its final attempt)."""
    names = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    attempts: Counter[str] = Counter()
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = e.activity_task_started_event_attributes
            attempts[names[attrs.scheduled_event_id]] += attrs.attempt
    return attempts


def scheduled_together(history: WorkflowHistory, activity_type: str) -> int:
    """The largest number of `activity_type` activities scheduled by one workflow task (parallelism)."""
    best = run = 0
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if e.activity_task_scheduled_event_attributes.activity_type.name.startswith(activity_type):
                run += 1
                best = max(best, run)
        elif (
            e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
            or e.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        ):
            run = 0
    return best
