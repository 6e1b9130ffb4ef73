"""One feed per followed run, shared by all its subscribers. A feed lives while someone follows it.

A run with a workflow stream is read through one subscription to it (api/stream_feed.py). A run from
before streams is read here: N subscribers of it cost one `progress` query every POLL_S, not N.

The feed keeps the run's events from the first it saw, in seq order, and learns of the run's end
from one long poll for its result (a terminated run never reports a final state in a query).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from temporalio.client import RPCTimeoutOrCancelledError, WorkflowQueryFailedError
from temporalio.service import RPCError

from api.stream_feed import StreamFeed, frame
from client import AgentClient, RunHandle
from core.models import AgentResult, ProgressEvent

POLL_S = 0.1
UNANSWERED_S = 1.0  # between queries while no worker answers for the run
UNANSWERED_AFTER_END = 5  # queries that fail after the run's end before the feed gives up on them
# Comment lines keep proxies from closing a quiet stream (a run waiting hours for its approver).
KEEPALIVE_S = 15.0
ORPHANED_S = 5.0  # a stream's feed opened for followers who all left meanwhile is stopped after this


@dataclass
class Feed:
    runs: AgentClient
    handle: RunHandle
    events: list[ProgressEvent] = field(default_factory=list)
    done: bool = False
    error: str | None = None  # why the feed stopped before the run's end, if it did
    next_seq: int | None = None  # the run's next event number, once a query has answered
    _answered: asyncio.Event = field(default_factory=asyncio.Event)
    followers: int = 0
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _task: asyncio.Task[None] | None = None
    ended: asyncio.Future[AgentResult] | None = None
    stopped: bool = False

    def start(self) -> None:
        self.ended = asyncio.ensure_future(self._result())
        self._task = asyncio.create_task(self._poll())

    async def _result(self) -> AgentResult:
        """The run's result; a long poll the transport drops is asked again, not taken as the end."""
        while True:
            try:
                return await self.handle.result()
            except RPCError:
                await asyncio.sleep(UNANSWERED_S)

    async def stop(self) -> None:
        self.stopped = True
        for task in (self._task, self.ended):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def _poll(self) -> None:
        try:
            await self._drain()
        except Exception as exc:  # the followers must hear of it, or they wait forever
            self.error = f"the run's progress could not be read: {exc}"[:500]
            await self._publish([], done=True)
        finally:
            self._answered.set()  # nobody waits for an answer that can no longer come

    async def _drain(self) -> None:
        assert self.ended is not None
        cursor = unanswered_after_end = 0
        while True:
            # Taken before the query: only a query that began after the end can have seen it all.
            ended_before = self.ended.done()
            try:
                page = await self.runs.progress(self.handle, cursor)
                fresh = page.events
                self.next_seq = page.next_seq
                self._answered.set()
            except (WorkflowQueryFailedError, RPCError, RPCTimeoutOrCancelledError):
                # No worker answers now (a restart, a query lost under load): ask again. After the
                # end, only so often: a terminated run may never answer, and its end is all there is.
                fresh = ()
                unanswered_after_end += ended_before
                if unanswered_after_end < UNANSWERED_AFTER_END:
                    if ended_before:
                        await asyncio.sleep(UNANSWERED_S)
                    else:
                        await asyncio.wait({self.ended}, timeout=UNANSWERED_S)
                    continue
            if fresh:
                cursor = fresh[-1].seq + 1
                await self._publish(list(fresh), done=False)
                continue  # a full page may have more behind it
            if ended_before:
                await self._publish([], done=True)
                return
            await asyncio.wait({self.ended}, timeout=POLL_S)

    async def known_next_seq(self, within_s: float) -> int | None:
        """The run's next event number from the feed's first answer; None if none came in time."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._answered.wait(), within_s)
        return self.next_seq

    async def _publish(self, fresh: list[ProgressEvent], done: bool) -> None:
        async with self._changed:
            self.events.extend(fresh)
            self.done = done
            self._changed.notify_all()

    async def follow(self, since: int) -> AsyncIterator[ProgressEvent | None]:
        """Each event with seq ≥ `since` once, in order; None when a quiet KEEPALIVE passed; returns
        when the run has ended and every event was given."""
        index = 0
        while True:
            async with self._changed:
                if index >= len(self.events) and not self.done:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), KEEPALIVE_S)
                batch, finished = self.events[index:], self.done
            index += len(batch)
            if not batch and not finished:
                yield None
            for event in batch:
                if event.seq >= since:
                    yield event
            if finished and index >= len(self.events):
                return

    async def frames_from(self, since: int) -> AsyncIterator[bytes | None]:
        """`follow` as SSE frames: each event's id is its seq."""
        async for event in self.follow(since):
            yield None if event is None else frame("progress", event.model_dump_json(), event.seq)


class Feeds:
    """The feeds of the runs followed now, by run id."""

    def __init__(self, runs: AgentClient) -> None:
        self.runs = runs
        self._feeds: dict[str, Feed | StreamFeed] = {}
        # A run's kind is looked at once however many followers arrive meanwhile (a query each).
        self._opening: dict[str, asyncio.Task[Feed | StreamFeed]] = {}
        self._stopping: set[asyncio.Task[None]] = set()  # orphaned feeds' stops, referenced till done

    @contextlib.asynccontextmanager
    async def following(self, handle: RunHandle) -> AsyncIterator[Feed | StreamFeed]:
        feed = await self._feed_of(handle)
        feed.followers += 1  # no await since the look-up: the feed cannot have stopped meanwhile
        try:
            yield feed
        finally:
            feed.followers -= 1
            if feed.followers == 0 and self._feeds.get(handle.id) is feed:
                del self._feeds[handle.id]
                await feed.stop()

    async def _feed_of(self, handle: RunHandle) -> Feed | StreamFeed:
        while (feed := self._feeds.get(handle.id)) is None:
            opening = self._opening.get(handle.id)
            if opening is None:
                opening = self._opening[handle.id] = asyncio.ensure_future(self._open(handle))
                opening.add_done_callback(lambda done: self._forget(handle.id, done))
            opened = await asyncio.shield(opening)
            if handle.id not in self._feeds and not opened.stopped:
                self._feeds[handle.id] = opened
                if opened.ended is None:  # a stream's feed is started by its opening already
                    opened.start()
        return feed

    async def next_seq(self, handle: RunHandle, within_s: float) -> int | None:
        """The run's next event id (its stream's offset, or its next `progress` seq for an older run):
        from its open feed, else from queries; None when no worker answered within `within_s`."""
        feed = self._feeds.get(handle.id)
        if feed is not None:
            return await feed.known_next_seq(within_s)
        try:
            async with asyncio.timeout(within_s):
                head = await self.runs.stream_offset(handle)
                return head if head is not None else (await self.runs.progress(handle, 0)).next_seq
        except (RPCError, TimeoutError, WorkflowQueryFailedError, RPCTimeoutOrCancelledError):
            return None

    def _forget(self, run_id: str, task: asyncio.Task[Feed | StreamFeed]) -> None:
        if self._opening.get(run_id) is task:
            del self._opening[run_id]

    async def _open(self, handle: RunHandle) -> Feed | StreamFeed:
        """The stream's feed when the run has a stream; the query's for an older run. While no
        worker answers, the query's feed: it waits for one and says so (an offset is refused).

        The stream's first poll goes out beside the query that tells, not after it: each waits for
        a task on the run's worker, so in turn the run's first items reached a new reader a worker
        round trip later. A run with no stream refuses the poll, and the query drops that feed."""
        speculative = StreamFeed(self.runs.client, handle)
        speculative.start()
        try:
            head = await self.runs.stream_offset(handle)
        except (RPCError, TimeoutError):
            head = None
        except BaseException:  # the API stops: nobody will take the feed up
            await speculative.stop()
            raise
        if head is None:
            await speculative.stop()
            return Feed(self.runs, handle)
        speculative.head = head
        # Stopped unless a follower took it up by then (they all left while it opened).
        asyncio.get_running_loop().call_later(ORPHANED_S, self._drop_orphan, handle.id, speculative)
        return speculative

    def _drop_orphan(self, run_id: str, feed: StreamFeed) -> None:
        if self._feeds.get(run_id) is not feed and not feed.stopped:
            task = asyncio.ensure_future(feed.stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)
