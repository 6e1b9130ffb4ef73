"""The activity's side of live text (activities/llm/live.py): which pieces it signals and which it
leaves to the reply (`live_tail`), so that every piece reaches the stream once."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from temporalio.testing import ActivityEnvironment

from activities.llm import live
from core.live import TextPiece
from core.models import LlmRequest

REQ = LlmRequest(workflow_id="run-1", turn=2, messages=(), prompt_version="v1", live=True)


class Topic:
    """Records what the sink hands to the stream client, and which hand-over asks for a flush."""

    def __init__(self) -> None:
        self.sent: list[tuple[TextPiece, bool]] = []

    def publish(self, piece: TextPiece, *, force_flush: bool = False) -> None:
        self.sent.append((piece, force_flush))


async def run(attempt: int, body: Any) -> tuple[Topic, tuple[TextPiece, ...]]:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    topic = Topic()

    async def activity() -> tuple[TextPiece, ...]:
        sink = live.LiveSink(topic, REQ)  # type: ignore[arg-type]
        await body(sink)
        return sink.tail()

    return topic, await env.run(activity)


async def test_a_reply_written_in_one_go_is_left_whole_to_the_reply() -> None:
    async def body(sink: live.LiveSink) -> None:
        for word in ("Refunded ", "re_1 ", "on pay_ABC124."):
            sink(word)

    topic, tail = await run(1, body)
    assert topic.sent == []
    assert [p.text for p in tail] == ["Refunded ", "re_1 ", "on pay_ABC124."]
    assert {(p.turn, p.attempt, p.restart) for p in tail} == {(2, 1, False)}


async def test_pieces_that_waited_an_interval_are_signalled_and_only_the_rest_is_left() -> None:
    async def body(sink: live.LiveSink) -> None:
        sink("Looking ")
        sink("it up. ")
        await asyncio.sleep(live.BATCH_INTERVAL.total_seconds() * 1.5)
        sink("Found it.")

    topic, tail = await run(1, body)
    assert [(p.text, flush) for p, flush in topic.sent] == [("Looking ", False), ("it up. ", True)]
    assert [p.text for p in tail] == ["Found it."]


async def test_a_retry_opens_with_its_restart_even_when_all_of_it_is_left_to_the_reply() -> None:
    async def body(sink: live.LiveSink) -> None:
        sink("Yes.")

    topic, tail = await run(3, body)
    assert topic.sent == []
    assert [(p.restart, p.text, p.attempt) for p in tail] == [(True, "", 3), (False, "Yes.", 3)]


async def test_a_long_tail_is_signalled_and_the_reply_carries_none() -> None:
    async def body(sink: live.LiveSink) -> None:
        for _ in range(live.TAIL_MAX_CHARS // 100 + 1):
            sink("x" * 100)

    topic, tail = await run(1, body)
    assert tail == () and sum(len(p.text) for p, _ in topic.sent) > live.TAIL_MAX_CHARS
    assert [flush for _, flush in topic.sent][-1] is True
