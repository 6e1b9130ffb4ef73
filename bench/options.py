"""Command-line option types shared by the benches (no heavy imports)."""

from __future__ import annotations

import argparse


def positive(text: str) -> int:
    """argparse type: an integer > 0, refused with a clear message otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def non_negative(text: str) -> int:
    """argparse type: an integer ≥ 0 (0 turns the thing off)."""
    return 0 if text.strip() == "0" else positive(text)
