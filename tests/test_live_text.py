"""The reader's rule for streamed text (core/live.py): per model call, the newest attempt's pieces only."""

from __future__ import annotations

from datetime import UTC, datetime

from core.live import LiveText, TextPiece

AT = datetime(2026, 12, 2, tzinfo=UTC)


def piece(attempt: int, text: str = "", call: str = "run:1", restart: bool = False) -> TextPiece:
    return TextPiece(call=call, turn=1, attempt=attempt, text=text, restart=restart, at=AT)


def test_a_restart_voids_the_earlier_attempt_and_its_late_pieces_are_dropped() -> None:
    reader = LiveText()
    assert reader.accept(piece(1, "Hel")) and reader.accept(piece(1, "lo"))
    restart = piece(2, restart=True)
    assert reader.accept(restart) and reader.restarted(restart)
    assert reader.text("run:1") == ""
    assert not reader.accept(piece(1, " world"))  # the broken attempt's last batch, arriving late
    assert reader.accept(piece(2, "Hello")) and reader.accept(piece(2, " there"))
    assert reader.text("run:1") == "Hello there"


def test_calls_are_apart_and_a_first_piece_is_no_restart() -> None:
    reader = LiveText()
    first = piece(1, "a")
    assert reader.accept(first) and not reader.restarted(first)
    assert reader.accept(piece(1, "b", call="run:2"))
    assert (reader.text("run:1"), reader.text("run:2")) == ("a", "b")
