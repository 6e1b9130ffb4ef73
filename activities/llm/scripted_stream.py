"""The scripted model's answer to `stream: true`: its completion as OpenAI chat-completion chunks.

Content goes out a word at a time (`piece_delay_s` apart, so a reader sees text before the end);
tool calls, usage and the finish reason in the last chunk, then `[DONE]`. A cut stream stops after
half the words with no finish: the provider's TransientError for a stream that broke mid-reply.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
from pydantic_core import to_json

_WORDS = re.compile(r"\S+\s*|\s+")


class ScriptedStream(httpx.AsyncByteStream):
    def __init__(self, body: dict[str, Any], piece_delay_s: float, cut: bool) -> None:
        self._body, self._delay, self._cut = body, piece_delay_s, cut

    async def __aiter__(self) -> AsyncIterator[bytes]:
        choice = self._body["choices"][0]
        message = choice["message"]
        pieces = _WORDS.findall(message.get("content") or "")
        if self._cut:
            pieces = pieces[: len(pieces) // 2]
        for n, piece in enumerate(pieces):
            if n and self._delay:
                await asyncio.sleep(self._delay)
            delta = {"index": 0, "delta": {"content": piece}}
            yield _event({"model": self._body["model"], "choices": [delta]})
        if self._cut:
            return
        calls: dict[str, Any] = {}
        if message.get("tool_calls"):
            calls["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        last = {"index": 0, "delta": calls, "finish_reason": choice["finish_reason"]}
        yield _event({"model": self._body["model"], "choices": [last], "usage": self._body["usage"]})
        yield b"data: [DONE]\n\n"


def _event(chunk: dict[str, Any]) -> bytes:
    return b"data: " + to_json(chunk) + b"\n\n"
