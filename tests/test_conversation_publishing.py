"""A conversation publishes AgentStatus only behind its patch: the history recorded before it holds
no marker and no upsert (and still replays: tests/test_replay.py); one recorded after it holds the
marker and one upsert to awaiting_approval, then one back to running, around the approval."""

from __future__ import annotations

import json
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from workflows.conversation_publishing import PATCH

HISTORIES = Path(__file__).parent / "histories"
BEFORE = HISTORIES / "merchant_support.conversation_followups.json"
AFTER = HISTORIES / "merchant_support.conversation_decided_published.json"


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def statuses(history: WorkflowHistory) -> list[str]:
    upserted = EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
    fields = [
        e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        for e in history.events
        if e.event_type == upserted
    ]
    return [json.loads(f["AgentStatus"].data) for f in fields if "AgentStatus" in f]


def patch_markers(history: WorkflowHistory) -> int:
    marked = EventType.EVENT_TYPE_MARKER_RECORDED
    return sum(
        1 for e in history.events if e.event_type == marked and PATCH.encode() in e.SerializeToString()
    )


def test_a_conversation_from_before_the_patch_published_nothing() -> None:
    history = load(BEFORE)
    assert (patch_markers(history), statuses(history)) == (0, [])


def test_a_conversation_after_it_publishes_the_wait_for_approval_and_its_end() -> None:
    history = load(AFTER)
    assert patch_markers(history) == 1
    assert statuses(history) == ["awaiting_approval", "running"]
