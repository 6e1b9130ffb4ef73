"""The shared feed of a run (api/feeds.py), on a fake client: every event once and in order for each
follower, the events recorded just before the end included, and a query no worker answers retried."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

from temporalio.service import RPCError, RPCStatusCode

from api.feeds import Feed, Feeds
from client import AgentClient
from core.models import AgentResult, ProgressPage, RunState
from core.progress import ProgressEvent, ProgressKind

AT = datetime(2026, 12, 1, tzinfo=UTC)


def event(seq: int) -> ProgressEvent:
    return ProgressEvent(seq=seq, at=AT, kind=ProgressKind.THINKING, turn=1)


class FakeRun:
    """A run whose log grows while followed, which ends after `until` events; its first query fails."""

    id = "run-1"
    # No Temporal client: the stream feed Feeds opens beside its first query fails to poll, as the
    # poll of a run with no stream is refused, and the query's answer drops it.
    client = None

    def __init__(self, until: int) -> None:
        self.log: list[ProgressEvent] = []
        self.until = until
        self.ended: asyncio.Future[AgentResult] = asyncio.get_running_loop().create_future()
        self.queries = 0

    async def grow(self) -> None:
        for seq in range(self.until):
            self.log.append(event(seq))
            await asyncio.sleep(0.01)
        # The end comes right after the last event, before any poll could see that event.
        self.ended.set_result(AgentResult(workflow_id=self.id, status=RunState.COMPLETED, answer="ok",
                                          turns=1, prompt_version="v"))  # fmt: skip

    async def result(self) -> AgentResult:
        return await asyncio.shield(self.ended)

    async def stream_offset(self, _handle: Any) -> int | None:
        return None  # a run from before workflow streams: followed through its `progress` query

    async def progress(self, _handle: Any, since: int) -> ProgressPage:
        self.queries += 1
        if self.queries == 1:
            raise RPCError("no poller", RPCStatusCode.DEADLINE_EXCEEDED, b"")
        page = tuple(e for e in self.log if e.seq >= since)[:3]  # short pages: paging is exercised
        return ProgressPage(events=page, next_seq=len(self.log), state=RunState.RUNNING)


async def test_every_follower_gets_every_event_once_in_order_including_the_last() -> None:
    run = FakeRun(until=25)
    feeds = Feeds(cast(AgentClient, run))
    growing = asyncio.ensure_future(run.grow())

    async def follower(since: int) -> list[int]:
        async with feeds.following(cast(Any, run)) as feed:
            assert isinstance(feed, Feed)
            return [e.seq async for e in feed.follow(since) if e is not None]

    whole, resumed = await asyncio.wait_for(asyncio.gather(follower(0), follower(10)), 30)
    await growing
    assert whole == list(range(25))
    assert resumed == list(range(10, 25))
    assert feeds._feeds == {}  # gone with its last follower
    pumping = [t for t in asyncio.all_tasks() if "StreamFeed._pump" in repr(t.get_coro())]
    assert pumping == []  # the stream feed opened beside the first query was stopped by its answer
