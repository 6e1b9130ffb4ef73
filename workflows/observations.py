"""What the model reads back after a tool call: typed, bounded JSON text."""

from __future__ import annotations

import json
from typing import Any

from core.errors import is_retryable_type

MAX_OBSERVATION_CHARS = 6_000


def _bounded(payload: dict[str, Any]) -> str:
    text = json.dumps(payload, ensure_ascii=False, default=str)
    if len(text) <= MAX_OBSERVATION_CHARS:
        return text
    cut = len(text) - MAX_OBSERVATION_CHARS
    return text[:MAX_OBSERVATION_CHARS] + f"… [truncated {cut} characters]"


def success(result: Any, note: str | None = None, degraded: bool = False) -> str:
    payload: dict[str, Any] = {"ok": True, "result": result}
    if note:
        payload["note"] = note
    if degraded:
        payload["degraded"] = True
    return _bounded(payload)


def succeeded(text: str) -> bool:
    """Whether an observation is a success(), even one cut by _bounded (it is then no longer JSON)."""
    return text.startswith('{"ok": true')


def failure(
    error_type: str, message: str, details: dict[str, Any] | None = None, *, retryable: bool | None = None
) -> str:
    payload: dict[str, Any] = {
        "ok": False,
        "error_type": error_type,
        "message": message,
        "retryable": is_retryable_type(error_type) if retryable is None else retryable,
    }
    if details:
        payload["details"] = details
    return _bounded(payload)
