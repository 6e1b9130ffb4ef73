"""Error classification at the HTTP boundary: every answer that is not a usable reply becomes exactly
one error class (core/errors.py), which then decides whether Temporal retries it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic_core import to_json

from core.errors import (
    AgentError,
    AuthError,
    ContentFilteredError,
    ContextOverflowError,
    InvalidInputError,
    RateLimitedError,
    TransientError,
)

# "context size": llama.cpp's server ("request (830 tokens) exceeds the available context size").
_OVERFLOW_HINTS = (
    "context length",
    "context_length",
    "maximum context",
    "too many tokens",
    "context window",
    "context size",
)
_FILTER_HINTS = ("content_filter", "content filter", "content_policy", "content policy")


def classify_transport_error(exc: httpx.TransportError, base_url: str) -> AgentError:
    """No HTTP answer at all: always worth another attempt, and the message names the endpoint."""
    if isinstance(exc, httpx.ConnectError):
        return TransientError(f"LLM provider unreachable at {base_url} (connection failed)")
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(f"LLM provider at {base_url} timed out ({type(exc).__name__})")
    return TransientError(f"LLM provider at {base_url} dropped the connection ({type(exc).__name__})")


def classify_response(response: httpx.Response, base_url: str, secret: str | None) -> AgentError:
    """Map a non-200 answer to exactly one error class; provider text is kept short and key-free."""
    status = response.status_code
    detail = _scrub(response.text[:500], secret)
    where = f"LLM provider at {base_url} answered HTTP {status}"
    if status == 429:
        return RateLimitedError(f"{where} (rate limited)", retry_after=retry_after(response.headers))
    if status in (408, 409) or status >= 500:
        return TransientError(f"{where}: {detail[:200]}")
    if status in (401, 403):
        # Providers echo (part of) the key in auth errors, so none of their text is kept.
        return AuthError(f"{where}: credentials rejected; check LLM_API_KEY")
    lowered = detail.lower()
    if status == 413 or (status == 400 and any(h in lowered for h in _OVERFLOW_HINTS)):
        return ContextOverflowError(f"{where}: the prompt does not fit the model's context: {detail[:200]}")
    if status == 400 and any(h in lowered for h in _FILTER_HINTS):
        return ContentFilteredError(f"{where}: content refused by the provider's filter")
    return InvalidInputError(f"{where}: {detail[:200]}")


def stream_error(error: dict[str, Any], base_url: str, secret: str | None) -> AgentError:
    """An error sent inside a stream is classified as if it had been the HTTP answer."""
    code = error.get("code")
    status = code if isinstance(code, int) and 400 <= code <= 599 else 500
    return classify_response(httpx.Response(status, content=to_json({"error": error})), base_url, secret)


def retry_after(headers: httpx.Headers, now: datetime | None = None) -> timedelta | None:
    """`retry-after-ms` (OpenAI) wins over `Retry-After`, which is seconds or an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return timedelta(milliseconds=max(0.0, float(millis)))
        except ValueError:
            pass
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return timedelta(seconds=max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), when - (now or datetime.now(UTC)))


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text
