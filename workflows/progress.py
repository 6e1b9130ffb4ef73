"""What the run is doing, as a bounded list of events the `progress` query pages through.

Pure workflow state: events are added as the loop runs (stamped with `workflow.now()` by the caller)
and rebuilt identically on replay; no command is issued, so adding them changes no history.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from itertools import islice

from core.live import TextPiece
from core.models import ToolCallRecord
from core.progress import PAGE_EVENTS, ProgressEvent, ProgressKind

# Older events fall off: a reader that far behind sees the newest ones, memory stays bounded.
KEEP_EVENTS = 1000
# Handed to the next run on continue-as-new: what a follower polling every 0.3 s may not have seen yet,
# with a wide margin, while the carry stays small (about 200 bytes an event).
CARRY_EVENTS = 50


class ProgressLog:
    def __init__(self, keep: int = KEEP_EVENTS) -> None:
        self._events: deque[ProgressEvent] = deque(maxlen=keep)
        self._next_seq = 0
        self._sink: Callable[[ProgressEvent], None] | None = None
        self._text: Callable[[TextPiece], None] | None = None

    def publish_to(self, sink: Callable[[ProgressEvent], None], text: Callable[[TextPiece], None]) -> None:
        """Each event from now on also goes to `sink` (the run's workflow stream, workflows/live.py),
        and the text pieces a model call leaves to the run to publish, to `text`."""
        self._sink, self._text = sink, text

    def show_text(self, pieces: tuple[TextPiece, ...]) -> None:
        """A model call's last text pieces (LlmResponse.live_tail), on the stream before its THOUGHT."""
        if self._text is not None:
            for piece in pieces:
                self._text(piece)

    @property
    def streamed(self) -> bool:
        """The run publishes a stream: its model calls stream their text to it too."""
        return self._sink is not None

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def add(self, at: datetime, kind: ProgressKind, turn: int, label: str = "", **fields: object) -> None:
        event = ProgressEvent.model_validate(
            {"seq": self._next_seq, "at": at, "kind": kind, "turn": turn, "label": label, **fields}
        )
        self._events.append(event)
        self._next_seq += 1
        if self._sink is not None:
            self._sink(event)

    def call_ended(self, at: datetime, record: ToolCallRecord) -> None:
        detail = record.error_type or ""
        self.add(
            at,
            ProgressKind.CALL_END,
            record.turn,
            record.tool,
            outcome=record.outcome.value,
            latency_ms=round(record.latency_ms, 1),
            detail=detail,
        )

    def tail(self, count: int) -> tuple[ProgressEvent, ...]:
        return tuple(self._events)[-count:] if count > 0 else ()

    def restore(self, events: tuple[ProgressEvent, ...], next_seq: int) -> None:
        """Continue-as-new: the previous run's newest events, and its numbering, go on here."""
        self._events.extend(events)
        self._next_seq = max(next_seq, self._next_seq)

    def since(self, seq: int) -> tuple[ProgressEvent, ...]:
        """Events from `seq` on (from the oldest kept if those fell off), at most one page."""
        first = self._events[0].seq if self._events else self._next_seq
        start = max(seq, first) - first
        if start >= len(self._events):
            return ()
        return tuple(islice(self._events, start, start + PAGE_EVENTS))


class InFlight(dict[str, str]):
    """Tool calls running now (call id → label, shown by `status`); starting one is a progress event."""

    def __init__(self, log: ProgressLog, now: Callable[[], datetime], turn: Callable[[], int]) -> None:
        super().__init__()
        self._log, self._now, self._turn = log, now, turn

    def __setitem__(self, call_id: str, label: str) -> None:
        super().__setitem__(call_id, label)
        self._log.add(self._now(), ProgressKind.CALL_START, self._turn(), label)
