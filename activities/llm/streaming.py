"""A streamed chat completion (server-sent events) folded back into the shape of a non-streamed body.

The provider parses the folded body with the same code as a non-streamed reply, so streaming changes
when the text arrives, never what the run sees. Content deltas go to the caller as they arrive; tool-call
deltas are joined by their index. A chunk that is not JSON is recorded (the reply becomes a parse
error the model is told about); a stream that stops before its end is the caller's to classify.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import from_json

DONE = "[DONE]"


@dataclass
class _CallDraft:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class Folded:
    """What a stream said: `body` is shaped like a non-streamed completion."""

    body: dict[str, Any]
    complete: bool  # [DONE] or a finish_reason arrived: the server finished the reply
    broken_chunk: str | None  # why a chunk was unusable, when one was
    error: dict[str, Any] | None  # an error the server sent inside the stream


@dataclass
class _Fold:
    on_text: Callable[[str], None]
    model: str | None = None
    content: list[str] = field(default_factory=list)
    calls: dict[int, _CallDraft] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: Any = None
    timings: Any = None
    done: bool = False
    chunks: int = 0
    broken: str | None = None
    error: dict[str, Any] | None = None

    def event(self, data: str) -> None:
        if data.strip() == DONE:
            self.done = True
            return
        self.chunks += 1
        try:
            chunk = from_json(data)
        except ValueError:
            self.broken = self.broken or f"stream chunk {self.chunks} was not JSON: {data[:80]!r}"
            return
        if not isinstance(chunk, dict):
            self.broken = self.broken or f"stream chunk {self.chunks} was not a JSON object"
            return
        if isinstance(chunk.get("error"), dict):
            self.error = chunk["error"]
            return
        self.model = chunk.get("model") if isinstance(chunk.get("model"), str) else self.model
        self.usage = chunk.get("usage") or self.usage
        self.timings = chunk.get("timings") or self.timings
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict):
                self._choice(choice)

    def _choice(self, choice: dict[str, Any]) -> None:
        if isinstance(choice.get("finish_reason"), str):
            self.finish_reason = choice["finish_reason"]
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return
        text = delta.get("content")
        if isinstance(text, str) and text:
            self.content.append(text)
            self.on_text(text)
        for item in delta.get("tool_calls") or ():
            if isinstance(item, dict):
                self._call(item)

    def _call(self, item: dict[str, Any]) -> None:
        raw_index = item.get("index")
        index = raw_index if isinstance(raw_index, int) else len(self.calls)
        draft = self.calls.setdefault(index, _CallDraft())
        draft.id = item.get("id") if isinstance(item.get("id"), str) else draft.id
        function = item.get("function")
        if isinstance(function, dict):
            if isinstance(function.get("name"), str):
                draft.name += function["name"]
            if isinstance(function.get("arguments"), str):
                draft.arguments.append(function["arguments"])

    def folded(self) -> Folded:
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.content) or None}
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": draft.id,
                    "type": "function",
                    "function": {"name": draft.name, "arguments": "".join(draft.arguments)},
                }
                for _, draft in sorted(self.calls.items())
            ]
        body: dict[str, Any] = {"choices": [{"message": message, "finish_reason": self.finish_reason}]}
        for key, value in (("model", self.model), ("usage", self.usage), ("timings", self.timings)):
            if value is not None:
                body[key] = value
        complete = self.done or self.finish_reason is not None
        return Folded(body, complete, self.broken, self.error)


async def fold(lines: AsyncIterator[str], on_text: Callable[[str], None]) -> Folded:
    """Read SSE lines to the end of the stream: `data:` lines joined per event, events folded in order."""
    state = _Fold(on_text)
    data: list[str] = []
    async for line in lines:
        if not line.strip():
            if data:
                state.event("\n".join(data))
                data = []
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line.startswith("error:"):  # llama.cpp's way to fail a request once its stream has begun
            state.event(f'{{"error": {line[6:].strip() or "{}"}}}')
        if state.done or state.error is not None:
            break
    if data and not state.done:
        state.event("\n".join(data))
    return state.folded()
