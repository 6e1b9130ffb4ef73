"""Logs that keep the secrets history keeps: when history is encrypted, content is logged as a digest.

With AGENT_CODEC_KEYS set, task text, tool arguments and results, model prompts and replies, and
error messages (which quote arguments) are ciphertext in Temporal's history. A log line carrying
them in plaintext would undo that. So, in that mode, every content field of every event becomes
`{"chars": N, "sha256": "<first 16 hex>"}`: enough to tell two calls apart, or to check a suspected
value, and nothing to read. AGENT_LOG_LEVEL=DEBUG keeps the full text, for debugging only: it writes
what the encryption protects into the logs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from structlog.typing import EventDict, WrappedLogger

KEYS_ENV = "AGENT_CODEC_KEYS"
# Top-level event fields that carry what a run is about, in every event that has them.
CONTENT_KEYS = frozenset(
    {
        "answer",
        "args",
        "arguments",
        "content",
        "detail",
        "error",
        "exception",
        "messages",
        "observation",
        "query",
        "reason",
        "result",
        "summary",
        "task",
        "text",
        "tool_calls",
    }
)


def digest(value: Any) -> dict[str, Any]:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return {"chars": len(text), "sha256": hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]}


def seal(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """The structlog processor: each content field as its length and hash."""
    return {k: digest(v) if k in CONTENT_KEYS and v is not None else v for k, v in event_dict.items()}


def sealed_from_env(env: Mapping[str, str], debug: bool) -> bool:
    """Whether to seal: history is encrypted and the level is not DEBUG."""
    return bool(env.get(KEYS_ENV, "").strip()) and not debug
