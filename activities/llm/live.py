"""The reply's text, published to the run's workflow stream while the provider writes it.

Each attempt of `llm.complete` is one publisher (the library numbers its batches, so a batch signal
sent twice lands once). Attempt N > 1 opens its text with a `restart` piece: readers then drop what the
earlier attempt had shown (core/live.py, LiveText), so a retried call never shows a token twice.

Pieces wait here at most BATCH_INTERVAL, then go out in one signal. The pieces still waiting when
the reply is complete are not signalled: they ride on the reply (`LlmResponse.live_tail`) and the
workflow publishes them when it takes the reply in (workflows/thinking.py). Their signal would have
been a workflow task of its own, and its readers' next poll another, right before the reply's task;
a reply written in one go (a short one, a tool call) then costs no signal at all. An attempt that
fails, or a reply refused as too large, signals its waiting pieces as before: they were written.

Live text is for watching: a publish that fails is logged and the model call goes on, its answer
still in the activity's result and the run's `progress` events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import structlog
from temporalio import activity
from temporalio.contrib.workflow_streams import TopicHandle, WorkflowStreamClient

from core.live import TEXT_TOPIC, TextPiece
from core.models import LlmRequest

log = structlog.get_logger(__name__)

# Pieces go out in one signal per interval: each signal is a history event and a workflow task, so
# a token each would fill the run's history; a reader sees text within about this much of its writing.
BATCH_INTERVAL = timedelta(milliseconds=200)
# A tail longer than this is signalled all the same: the reply's payload stays about its own size.
TAIL_MAX_CHARS = 4_000

# A flush that keeps failing is given up after this: the call itself must not wait on the display.
MAX_RETRY = timedelta(seconds=30)

OnText = Callable[[str], None]  # a LiveSink is one


class LiveSink:
    """Where the provider passes each piece of text (it is called with it)."""

    def __init__(self, topic: TopicHandle[TextPiece], req: LlmRequest) -> None:
        info = activity.info()
        self._topic, self._req, self._attempt = topic, req, info.attempt
        self._call = f"{info.workflow_run_id}:{info.activity_id}"
        self._opened = info.attempt == 1  # a later attempt opens with its restart, before its first text
        self._waiting: list[TextPiece] = []
        self._due: asyncio.TimerHandle | None = None

    def __call__(self, text: str) -> None:
        if not self._opened:
            self._waiting.append(self._piece("", restart=True))
            self._opened = True
        self._waiting.append(self._piece(text))
        if self._due is None:
            self._due = asyncio.get_running_loop().call_later(BATCH_INTERVAL.total_seconds(), self.send)

    def send(self) -> None:
        """Hand the waiting pieces to the stream client, flushed at once."""
        waiting = self._take()
        for n, piece in enumerate(waiting, 1):
            self._topic.publish(piece, force_flush=n == len(waiting))

    def tail(self) -> tuple[TextPiece, ...]:
        """The pieces still waiting, now the reply's to carry (signalled instead when too long)."""
        if sum(len(piece.text) for piece in self._waiting) > TAIL_MAX_CHARS:
            self.send()
        return self._take()

    def _take(self) -> tuple[TextPiece, ...]:
        """The waiting pieces, in order; afterwards none wait, and no send is due."""
        if self._due is not None:
            self._due.cancel()
            self._due = None
        waiting, self._waiting = tuple(self._waiting), []
        return waiting

    def _piece(self, text: str, restart: bool = False) -> TextPiece:
        turn, attempt, at = self._req.turn, self._attempt, datetime.now(UTC)
        return TextPiece(call=self._call, turn=turn, attempt=attempt, text=text, restart=restart, at=at)


@asynccontextmanager
async def text_sink(req: LlmRequest) -> AsyncIterator[LiveSink | None]:
    """Where the provider passes each piece of text; None when the run has no stream to show it on.
    What the sink still holds at the end is signalled (take the reply's tail from it before)."""
    if not req.live or not activity.in_activity():
        yield None
        return
    stream = WorkflowStreamClient.from_within_activity(
        batch_interval=BATCH_INTERVAL, max_retry_duration=MAX_RETRY
    )
    sink = LiveSink(stream.topic(TEXT_TOPIC, type=TextPiece), req)
    async with _Publishing(stream, req):
        try:
            yield sink
        finally:
            sink.send()


class _Publishing:
    """The stream client's batching for the call's length; its last flush may fail without failing
    the call (the model's own errors pass through untouched)."""

    def __init__(self, stream: WorkflowStreamClient, req: LlmRequest) -> None:
        self._stream, self._req = stream, req

    async def __aenter__(self) -> None:
        await self._stream.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._stream.__aexit__(*exc)
        except Exception as err:  # the text is lost to readers, not to the run
            req, error = self._req, str(err)[:300]
            log.warning("llm.live_text_lost", workflow_id=req.workflow_id, turn=req.turn, error=error)
