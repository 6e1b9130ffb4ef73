"""The reply's text, published to the run's workflow stream while the provider writes it.

Each attempt of `llm.complete` is one publisher (the library numbers its batches, so a batch signal
sent twice lands once). Attempt N > 1 opens its text with a `restart` piece: readers then drop what the
earlier attempt had shown (core/live.py, LiveText), so a retried call never shows a token twice.

Live text is for watching: a publish that fails is logged and the model call goes on, its answer
still in the activity's result and the run's `progress` events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import structlog
from temporalio import activity
from temporalio.contrib.workflow_streams import WorkflowStreamClient

from core.live import TEXT_TOPIC, TextPiece
from core.models import LlmRequest

log = structlog.get_logger(__name__)

# Pieces go out in one signal per interval: each signal is a history event and a workflow task, so
# a token each would fill the run's history; a reader sees text within about this much of its writing.
BATCH_INTERVAL = timedelta(milliseconds=200)

# A flush that keeps failing is given up after this: the call itself must not wait on the display.
MAX_RETRY = timedelta(seconds=30)

OnText = Callable[[str], None]


@asynccontextmanager
async def text_sink(req: LlmRequest) -> AsyncIterator[OnText | None]:
    """Where the provider passes each piece of text; None when the run has no stream to show it on."""
    if not req.live or not activity.in_activity():
        yield None
        return
    info = activity.info()
    call = f"{info.workflow_run_id}:{info.activity_id}"
    stream = WorkflowStreamClient.from_within_activity(
        batch_interval=BATCH_INTERVAL, max_retry_duration=MAX_RETRY
    )
    topic = stream.topic(TEXT_TOPIC, type=TextPiece)

    def piece(text: str, restart: bool = False) -> TextPiece:
        return TextPiece(
            call=call, turn=req.turn, attempt=info.attempt, text=text, restart=restart, at=datetime.now(UTC)
        )

    opened = info.attempt == 1  # a later attempt opens with its restart, in the batch of its first text

    def publish(text: str) -> None:
        nonlocal opened
        if not opened:
            topic.publish(piece("", restart=True))
            opened = True
        topic.publish(piece(text))

    async with _Publishing(stream, req):
        yield publish


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
