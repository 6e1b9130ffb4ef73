"""Live contract: what a run publishes on its workflow stream (temporalio.contrib.workflow_streams).

Two topics. `progress` carries the step events of the `progress` query (core/progress.py) as the
workflow records them; `text` carries the model's reply text as the provider streams it, published
from the `llm.complete` activity. Every item has a stream offset that survives continue-as-new.

A retried model call streams its text again. So each piece names its call and attempt, and attempt
N > 1 opens with a `restart` piece: a reader keeps, per call, only the newest attempt's text
(`LiveText`), and never shows a token of an earlier attempt after a later one began.
"""

from __future__ import annotations

from datetime import datetime

from core.frozen import Frozen

PROGRESS_TOPIC = "progress"
TEXT_TOPIC = "text"


class TextPiece(Frozen):
    """Reply text as it was written: `call` names the model call (run and activity), `at` when the
    worker sent it on."""

    call: str
    turn: int
    attempt: int
    text: str = ""
    restart: bool = False  # attempt > 1 begins: the earlier attempts' text of this call is void
    at: datetime


class LiveText:
    """A reader's view of the text pieces: per call, the newest attempt's text, each piece once."""

    def __init__(self) -> None:
        self._attempts: dict[str, int] = {}
        self._texts: dict[str, list[str]] = {}

    def accept(self, piece: TextPiece) -> bool:
        """Take a piece in; False when it belongs to an attempt a later one replaced (drop it)."""
        current = self._attempts.get(piece.call, 0)
        if piece.attempt < current:
            return False
        if piece.attempt > current:
            self._attempts[piece.call] = piece.attempt
            self._texts[piece.call] = []
        if piece.text:
            self._texts[piece.call].append(piece.text)
        return True

    def text(self, call: str) -> str:
        return "".join(self._texts.get(call, ()))

    def restarted(self, piece: TextPiece) -> bool:
        """This piece voided text shown before (an earlier attempt's)."""
        return piece.restart and piece.attempt > 1
