"""One upstream subscription per streamed run, fanned out in memory to all its SSE subscribers.

A run with a workflow stream (workflows/live.py) is read with WorkflowStreamClient.subscribe: one
long-poll update at a time, whatever the number of subscribers, so the run's history and the
server's load do not grow with them. Each item is framed as SSE bytes once (its id is its stream
offset, which survives continue-as-new) and every subscriber is handed those same bytes: JSON is
neither decoded nor encoded per subscriber. `Last-Event-ID: N` resumes at offset N + 1 exactly.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import RawValue
from temporalio.contrib.workflow_streams import WorkflowStreamClient
from temporalio.converter import DataConverter
from temporalio.service import RPCError

from client import RunHandle
from core.live import PROGRESS_TOPIC
from core.models import AgentResult
from core.progress import ProgressKind

# Between a poll's answer and the next poll while caught up: an item published meanwhile waits at
# most this long; a shorter pause costs a workflow task per batch (bench/api_sse.py measures it).
POLL_COOLDOWN = timedelta(milliseconds=50)
RESUBSCRIBE_S = 1.0  # after a subscription failed while the run goes on (no worker, a restart)
UNANSWERED_AFTER_END = 5  # failed reads of an ended run's last items before the feed gives up
ENDED_WITHIN_S = 10.0  # the run's result, once its stream has drained
KEEPALIVE_S = 15.0  # comment lines keep proxies from closing a quiet stream


def frame(event: str, data: str, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n".encode()


@dataclass
class StreamFeed:
    client: Client
    handle: RunHandle
    head: int = 0  # the stream's offset when the feed began: Last-Event-ID beyond it is refused
    offsets: list[int] = field(default_factory=list)
    frames: list[bytes] = field(default_factory=list)
    done: bool = False
    error: str | None = None
    ended: asyncio.Future[AgentResult] | None = None
    followers: int = 0
    stopped: bool = False
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.ended = asyncio.ensure_future(self._result())
        self._task = asyncio.create_task(self._pump())

    async def known_next_seq(self, within_s: float) -> int | None:
        return max(self.head, self.offsets[-1] + 1 if self.offsets else 0)

    async def _result(self) -> AgentResult:
        while True:
            try:
                return await self.handle.result()
            except RPCError:  # a long poll the transport dropped: ask again
                await asyncio.sleep(RESUBSCRIBE_S)

    async def _pump(self) -> None:
        assert self.ended is not None
        failed_after_end = 0
        try:
            while True:
                try:
                    await self._read(WorkflowStreamClient.create(self.client, self.handle.id))
                    break
                except Exception as exc:  # no worker answered the poll, a restart: subscribe again
                    # After the end, the last items come from a query, which a loaded worker may not
                    # answer in time: asked again a few times, as the query feed does (api/feeds.py).
                    failed_after_end += self.ended.done()
                    if failed_after_end >= UNANSWERED_AFTER_END:
                        raise
                    self.error = str(exc)[:500]
                    if self.ended.done():
                        await asyncio.sleep(RESUBSCRIBE_S)
                    else:
                        await asyncio.wait({self.ended}, timeout=RESUBSCRIBE_S)
            self.error = None
            await asyncio.wait({self.ended}, timeout=ENDED_WITHIN_S)
        except Exception as exc:  # the followers must hear of it, or they wait forever
            self.error = f"the run's stream could not be read: {exc}"[:500]
        async with self._changed:
            self.done = True
            self._changed.notify_all()

    async def _read(self, stream: WorkflowStreamClient) -> None:
        """Items from the next unseen offset to the ended run's last, framed once each."""
        start = self.offsets[-1] + 1 if self.offsets else 0
        items = stream.subscribe(None, start, result_type=RawValue, poll_cooldown=POLL_COOLDOWN)
        async for item in items:
            if self.offsets and item.offset <= self.offsets[-1]:
                continue  # a truncated offset restarts at the retained base: seen already
            data = _json(item.data)
            async with self._changed:
                self.offsets.append(item.offset)
                self.frames.append(frame(item.topic, data, item.offset))
                self._changed.notify_all()
            if item.topic == PROGRESS_TOPIC and json.loads(data).get("kind") == ProgressKind.ENDED:
                # The run's last item (workflows/agent.py): the library would now fail a poll on
                # the ended run, describe it and query it (a replay of its whole history) for none
                # (the suspended subscription is closed by asyncio once dropped).
                return

    async def frames_from(self, since: int) -> AsyncIterator[bytes | None]:
        """Each item's frame with offset ≥ `since` once, in order; None after a quiet KEEPALIVE_S."""
        index = 0
        while True:
            async with self._changed:
                if index >= len(self.frames) and not self.done:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), KEEPALIVE_S)
                start, end, finished = index, len(self.frames), self.done
            index = max(end, start)
            if start == end and not finished:
                yield None
            # The items before `since` (read by a feed that began before this follower) are skipped.
            for i in range(max(start, bisect.bisect_left(self.offsets, since, start, end)), end):
                yield self.frames[i]
            if finished and index >= len(self.frames):
                return

    async def stop(self) -> None:
        self.stopped = True
        for task in (self._task, self.ended):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task


def _json(raw: RawValue) -> str:
    """The item's JSON as published (the pydantic converter's json/plain); other encodings decoded."""
    payload = raw.payload
    if payload.metadata.get("encoding") == b"json/plain" and b"\n" not in payload.data:
        return payload.data.decode()
    return json.dumps(DataConverter.default.payload_converter.from_payload(payload))
