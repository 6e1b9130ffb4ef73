"""`run` prints the model's text as it is written, beside the step lines of the progress query.

The text comes from the run's workflow stream (`text` topic, core/live.py). A run from before
streams has none: the steps alone are shown, as before. A retried model call starts its text again:
the reader says so and shows the new attempt's text; the old attempt's late pieces are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from temporalio.client import Client
from temporalio.contrib.workflow_streams import WorkflowStreamClient

from core.live import TEXT_TOPIC, LiveText, TextPiece

T = TypeVar("T")
# The text reader ends by itself once the ended run's stream is drained; this bounds the wait.
DRAIN_S = 5.0
POLL_COOLDOWN = timedelta(milliseconds=50)
# Called with each piece shown and the moment it was (bench/first_token.py measures with it).
OnShown = Callable[[TextPiece, datetime], None]


class LiveConsole:
    """Whole lines and pieces of text on one terminal: a line after open text starts on its own."""

    PREFIX = "  │ "

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._open: str | None = None  # the call whose text the cursor is in

    def line(self, text: str) -> None:
        self._close()
        self._write(text + "\n")

    def piece(self, piece: TextPiece, restarted: bool) -> None:
        if restarted:
            self._close()
            self._write(f"  (the model call is retried, attempt {piece.attempt}: its reply starts again)\n")
        if not piece.text:
            return
        if self._open != piece.call:
            self._close()
            self._write(self.PREFIX)
            self._open = piece.call
        self._write(piece.text.replace("\n", "\n" + self.PREFIX))

    def _close(self) -> None:
        if self._open is not None:
            self._write("\n")
            self._open = None


async def show_text(
    client: Client, run_id: str, console: LiveConsole, on_shown: OnShown | None = None
) -> None:
    """Show each text piece of the run once, until its stream ends; nothing without a stream."""
    reader = LiveText()
    stream = WorkflowStreamClient.create(client, run_id)
    try:
        async for item in stream.subscribe(TEXT_TOPIC, result_type=TextPiece, poll_cooldown=POLL_COOLDOWN):
            piece = item.data
            if reader.accept(piece):
                console.piece(piece, reader.restarted(piece))
                if on_shown is not None:
                    on_shown(piece, datetime.now(UTC))
    except Exception:  # a run without a stream refuses the poll; its steps are shown all the same
        return


async def with_text(client: Client, run_id: str, console: LiveConsole, following: Awaitable[T]) -> T:
    """Await `following` (the step lines) while the run's text is shown; then the text's last pieces."""
    text = asyncio.create_task(show_text(client, run_id, console))
    try:
        result = await following
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(text), DRAIN_S)
        console.line("")
        return result
    finally:
        text.cancel()
        with contextlib.suppress(BaseException):
            await text
