"""A run's last items reach a following reader through its long poll, before the run ends
(workflows/live.py, TAIL_PATCH): not through the query that replays the ended run on a worker. A run
whose reader left waits at most TAIL_WAIT for it; a run nobody read does not wait at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.common import RawValue
from temporalio.contrib.workflow_streams import WorkflowStreamClient
from temporalio.contrib.workflow_streams import _stream as library_stream

from activities.llm.scripted import ScriptedReply
from core.live import PROGRESS_TOPIC
from tests.api_stack import ApiStack, api_stack, sse_frames
from tests.test_agent_workflow import answer, call
from workflows import live

FOLLOWED = "[tail-followed] what is pay_ABC123?"
LEFT = "[tail-left] what is pay_ABC123?"
UNREAD = "[tail-unread] what is pay_ABC123?"
LOOKUP = call("get_transaction", transaction_id="pay_ABC123")
# The first reply takes a while, so the readers' first poll comes well before the run ends.
SCRIPTS = {
    task: [ScriptedReply(tool_calls=[LOOKUP], delay_s=0.5), answer("A 49.99 USD charge.")]
    for task in (FOLLOWED, LEFT, UNREAD)
}


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ApiStack]:
    async with api_stack(tmp_path_factory.mktemp("tail"), SCRIPTS, streams=True) as running:
        yield running


def test_the_wrapped_poll_is_the_librarys() -> None:
    """The names live.py relies on are the library's own (an upgrade that renames them fails here)."""
    assert live.POLL == library_stream._POLL
    assert live.DRAINING == library_stream.STREAM_DRAINING_ERROR_TYPE


async def _history(stack: ApiStack, run_id: str) -> tuple[list[Any], set[str]]:
    """The run's events, and the ids of the patches its history records."""
    history = await stack.client.get_workflow_handle(run_id).fetch_history()
    convert = stack.client.data_converter.payload_converter
    markers = [e.marker_recorded_event_attributes.details for e in history.events]
    patches = {convert.from_payload(m["patch-data"].payloads[0])["id"] for m in markers if "patch-data" in m}
    return list(history.events), patches


def _count_queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    queries: list[str] = []
    query = WorkflowHandle.query

    async def counted(self: WorkflowHandle[Any, Any], name: Any, *args: Any, **kwargs: Any) -> Any:
        queries.append(str(name))
        return await query(self, name, *args, **kwargs)

    monkeypatch.setattr(WorkflowHandle, "query", counted)
    return queries


async def test_a_followed_run_hands_its_last_items_to_the_readers_poll(
    stack: ApiStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = _count_queries(monkeypatch)
    run_id = await stack.start(FOLLOWED, "u1", stack.bearer("alice"))
    stream = WorkflowStreamClient.create(stack.client, run_id)
    kinds, asked_before_end = [], None
    async for item in stream.subscribe(PROGRESS_TOPIC, 0, result_type=RawValue):
        kinds.append(stack.client.data_converter.payload_converter.from_payload(item.data.payload)["kind"])
        if kinds[-1] == "ended":
            asked_before_end = list(queries)
    assert kinds[-1] == "ended" and kinds.count("ended") == 1
    assert asked_before_end == []  # the last items came with a poll, while the run was still open
    events, patches = await _history(stack, run_id)
    assert live.TAIL_PATCH in patches
    assert not [e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED]


async def test_the_apis_feed_ends_at_the_ended_item_without_querying_the_ended_run(
    stack: ApiStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = _count_queries(monkeypatch)
    alice = stack.bearer("alice")
    run_id = await stack.start(FOLLOWED, "u4", alice)
    frames = sse_frames((await stack.http.get(f"/v1/runs/{run_id}/events", headers=alice)).text)
    assert frames[-1]["event"] == "result" and frames[-2]["data"]["kind"] == "ended"
    assert [f["id"] for f in frames[:-1]] == list(range(len(frames) - 1))
    assert live.POLL not in queries  # the library's read of an ended run replays its history


async def test_a_run_whose_reader_left_waits_for_it_at_most_tail_wait(stack: ApiStack) -> None:
    run_id = await stack.start(LEFT, "u2", stack.bearer("alice"))
    stream = WorkflowStreamClient.create(stack.client, run_id)
    async for _ in stream.subscribe(PROGRESS_TOPIC, 0, result_type=RawValue):
        break  # read once, then gone
    result = await stack.runs.handle(run_id).result()
    assert result.status == "completed"
    events, _ = await _history(stack, run_id)
    started = [e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
    fired = [e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED]
    waits = [e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta() for e in started]
    assert waits == [live.TAIL_WAIT] and len(fired) == 1


async def test_a_run_nobody_read_ends_without_waiting(stack: ApiStack) -> None:
    run_id = await stack.start(UNREAD, "u3", stack.bearer("alice"))
    assert (await stack.runs.handle(run_id).result()).status == "completed"
    events, patches = await _history(stack, run_id)
    assert live.PATCH in patches and live.TAIL_PATCH not in patches  # a stream, and no tail to hand
    assert not [e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
