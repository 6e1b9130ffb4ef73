"""History size of a workflow id across all its runs, broken down by what the bytes carry.

Bytes are protobuf `ByteSize()` of each history event (the wire form Temporal stores and counts
against its history size limits), summed over every run of the id (continue-as-new makes several).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory

E = EventType
OTHER = "other events (tasks, markers, search attributes)"


@dataclass
class HistorySize:
    """What a workflow id's histories weigh, summed over its runs."""

    runs: int = 0
    events: int = 0
    total_bytes: int = 0
    by_category: Counter[str] = field(default_factory=Counter)
    max_activity_payload: int = 0
    max_activity_payload_what: str = ""
    max_workflow_payload: int = 0
    max_workflow_payload_what: str = ""
    largest_carry: bytes = b""

    def as_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "events": self.events,
            "total_bytes": self.total_bytes,
            "by_category": dict(self.by_category.most_common()),
            "max_activity_payload_bytes": self.max_activity_payload,
            "max_activity_payload_what": self.max_activity_payload_what,
            "max_workflow_payload_bytes": self.max_workflow_payload,
            "max_workflow_payload_what": self.max_workflow_payload_what,
            "largest_carry_fields": carry_fields(self.largest_carry),
        }


async def fetch_runs(client: Client, workflow_id: str, first_run_id: str) -> list[WorkflowHistory]:
    """Every run of the id, oldest first, following each run's continued-as-new event."""
    histories: list[WorkflowHistory] = []
    run_id: str | None = first_run_id
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1] if history.events else None
        run_id = None
        if last is not None and last.event_type == E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    return histories


def _payload_bytes(payloads: Payloads) -> int:
    return max((p.ByteSize() for p in payloads.payloads), default=0)


def classify(event: HistoryEvent, scheduled: dict[int, str]) -> tuple[str, int, bool]:
    """(category, largest payload in the event, whether that payload is an activity's)."""
    kind = event.event_type
    if kind == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        attrs = event.activity_task_scheduled_event_attributes
        name = attrs.activity_type.name
        scheduled[event.event_id] = name
        return f"{_family(name)} input", _payload_bytes(attrs.input), True
    if kind == E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        done = event.activity_task_completed_event_attributes
        name = scheduled.get(done.scheduled_event_id, "?")
        return f"{_family(name)} result", _payload_bytes(done.result), True
    if kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        started = event.workflow_execution_started_event_attributes
        return "run start (request + carry in)", _payload_bytes(started.input), False
    if kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        cont = event.workflow_execution_continued_as_new_event_attributes
        return "continue-as-new (carry out)", _payload_bytes(cont.input), False
    if kind == E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        result = event.workflow_execution_completed_event_attributes.result
        return "final AgentResult", _payload_bytes(result), False
    return OTHER, 0, False


def carry_fields(data: bytes) -> dict[str, int]:
    """JSON bytes of each field of a continue-as-new carry, largest first (the loop's results apart)."""
    if not data:
        return {}
    carry = json.loads(data).get("carry") or {}
    sizes = {name: len(json.dumps(value).encode()) for name, value in carry.items()}
    sizes["loop.results (part of loop)"] = len(json.dumps(carry.get("loop", {}).get("results", {})).encode())
    return dict(sorted(sizes.items(), key=lambda item: -item[1]))


def _carry_data(event: HistoryEvent) -> bytes:
    payloads = event.workflow_execution_continued_as_new_event_attributes.input.payloads
    return payloads[0].data if payloads else b""


def _family(activity: str) -> str:
    return "tool.*" if activity.startswith("tool.") else activity


def measure(histories: list[WorkflowHistory]) -> HistorySize:
    size = HistorySize(runs=len(histories))
    for history in histories:
        scheduled: dict[int, str] = {}  # event ids restart in every run
        for event in history.events:
            category, payload, is_activity = classify(event, scheduled)
            nbytes = event.ByteSize()
            size.events += 1
            size.total_bytes += nbytes
            size.by_category[category] += nbytes
            if is_activity and payload > size.max_activity_payload:
                size.max_activity_payload, size.max_activity_payload_what = payload, category
            if not is_activity and payload > size.max_workflow_payload:
                size.max_workflow_payload, size.max_workflow_payload_what = payload, category
            if event.event_type == E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                data = _carry_data(event)
                size.largest_carry = max(size.largest_carry, data, key=len)
    return size
