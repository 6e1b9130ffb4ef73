"""A deterministic scripted model served as an httpx transport that speaks OpenAI chat completions.

`OpenAIProvider(transport=ScriptedTransport(book))` therefore exercises exactly the request building,
parsing, usage and error classification of a real provider. Replies come from a `ScriptBook` keyed by a
substring of the first user message, or from a fallback `Policy`: an agent's rule-based stand-in for a
competent model (`Agent.stand_in`).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter, deque
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, Field
from pydantic_core import from_json, to_json

from activities.llm.scripted_stream import ScriptedStream

EXHAUSTED = "(script exhausted)"
_JSON = {"Content-Type": "application/json"}
_SSE = {"Content-Type": "text/event-stream"}


class ScriptedToolCall(BaseModel):
    name: str
    # A str is sent verbatim, so tests can feed malformed JSON arguments.
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class ScriptedReply(BaseModel):
    content: str = ""
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    status: int = 200
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None  # raw body override, e.g. invalid JSON
    fail_first: int = 0  # >0: the first N attempts of this turn get status/headers/body, then success
    delay_s: float = 0.0
    cut_first: int = 0  # >0: streamed, the first N attempts of this turn break off halfway


class Policy(Protocol):
    def reply(self, messages: list[dict[str, Any]], tool_names: set[str]) -> ScriptedReply: ...


class ScriptBook:
    """Scripts keyed by a substring of the first user message; the first matching key wins."""

    def __init__(self, scripts: dict[str, list[ScriptedReply]], fallback: Policy | None = None) -> None:
        self.scripts = scripts
        self.fallback = fallback

    def match(self, task: str) -> str | None:
        return next((key for key in self.scripts if key in task), None)


class ScriptedTransport(httpx.AsyncBaseTransport):
    """Answers POST .../chat/completions; the turn index is the number of assistant messages sent."""

    def __init__(self, book: ScriptBook, *, streams: bool = False, piece_delay_s: float = 0.0) -> None:
        self.book = book
        # Off by default: a request for a stream is answered whole (as by a server that cannot stream),
        # and the runs of older tests and benches publish what they always did.
        self.streams, self.piece_delay_s = streams, piece_delay_s
        self.calls: Counter[tuple[str, int]] = Counter()  # attempts per (key, turn), for fail_first
        # The latest request bodies, for tests; bounded: a 500-run benchmark kept all 4,500 prompts
        # (~4 KB each) alive for the garbage collector to walk on every full collection.
        self.requests: deque[dict[str, Any]] = deque(maxlen=64)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
            return httpx.Response(404, json={"error": {"message": f"no route {request.url.path}"}})
        # pydantic_core's parser and encoder: this stand-in's CPU is charged to the worker in bench/.
        body = from_json(await request.aread())
        self.requests.append(body)
        messages: list[dict[str, Any]] = body.get("messages", [])
        reply, failing = self._choose(messages, {t["function"]["name"] for t in body.get("tools", [])})
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if failing:
            content = reply.body if reply.body is not None else json.dumps({"error": {"message": "scripted"}})
            return httpx.Response(reply.status, headers=reply.headers, content=content.encode())
        if self.streams and body.get("stream"):
            key = self.book.match(first_user_text(messages))
            turn = sum(1 for m in messages if m.get("role") == "assistant")
            cut = key is not None and self.calls[(key, turn)] <= reply.cut_first
            chunks = ScriptedStream(completion_body(reply, messages), self.piece_delay_s, cut)
            return httpx.Response(200, headers=_SSE, stream=chunks)
        return httpx.Response(200, content=to_json(completion_body(reply, messages)), headers=_JSON)

    def _choose(self, messages: list[dict[str, Any]], tool_names: set[str]) -> tuple[ScriptedReply, bool]:
        task = first_user_text(messages)
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        key = self.book.match(task)
        if key is None:
            policy = self.book.fallback
            text = "(no script matches this task)"
            return (policy.reply(messages, tool_names) if policy else ScriptedReply(content=text)), False
        script = self.book.scripts[key]
        if turn >= len(script):
            return ScriptedReply(content=EXHAUSTED), False
        reply = script[turn]
        self.calls[(key, turn)] += 1
        attempt = self.calls[(key, turn)]
        failing = reply.status != 200 or reply.body is not None
        return reply, failing and (reply.fail_first == 0 or attempt <= reply.fail_first)


def first_user_text(messages: list[dict[str, Any]]) -> str:
    return next((str(m.get("content") or "") for m in messages if m.get("role") == "user"), "")


def completion_body(reply: ScriptedReply, messages: list[dict[str, Any]]) -> dict[str, Any]:
    calls: list[dict[str, Any]] = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {
                "name": c.name,
                "arguments": c.arguments if isinstance(c.arguments, str) else json.dumps(c.arguments),
            },
        }
        for i, c in enumerate(reply.tool_calls)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
    if calls:
        message["tool_calls"] = calls
    # A message counts its content and its tool calls' compact JSON ("[]", 2 chars, when it has none),
    # encoded by pydantic_core: this stand-in's CPU is charged to the worker in bench/.
    prompt_chars = sum(
        len(str(m.get("content") or "")) + (len(to_json(made)) if (made := m.get("tool_calls")) else 2)
        for m in messages
    )
    reply_chars = len(reply.content) + sum(
        len(c["function"]["name"] + c["function"]["arguments"]) for c in calls
    )
    return {
        "id": f"chatcmpl-scripted-{len(messages)}",
        "object": "chat.completion",
        "model": "scripted",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": {"prompt_tokens": prompt_chars // 4, "completion_tokens": reply_chars // 4},
    }


# ── helpers for stand-in models (rule-based policies an agent ships for tests) ──


def call_of(name: str, **arguments: Any) -> ScriptedToolCall:
    return ScriptedToolCall(name=name, arguments=arguments)


class Observation(BaseModel):
    tool: str
    args: dict[str, Any]
    data: Any  # the decoded observation (a dict when the tool returned JSON), else the raw text
    error: str | None


def observations(messages: list[dict[str, Any]]) -> list[Observation]:
    """Pair every tool message with the assistant call it answers, decoding JSON where possible."""
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    out: list[Observation] = []
    for message in messages:
        for call in message.get("tool_calls") or []:
            args = _loads(call["function"].get("arguments") or "{}")
            calls[call.get("id", "")] = (call["function"]["name"], args if isinstance(args, dict) else {})
        if message.get("role") == "tool":
            tool, args = calls.get(message.get("tool_call_id") or "", (str(message.get("name") or ""), {}))
            data = _unwrap(_loads(str(message.get("content") or "")))
            out.append(Observation(tool=tool, args=args, data=data, error=_error_of(data)))
    return out


def _error_of(data: Any) -> str | None:
    if isinstance(data, dict):
        if data.get("error") or data.get("error_type") or data.get("status") == "denied":
            detail = data.get("error") or data.get("message") or data.get("reason") or data.get("status")
            kind = data.get("error_type") or data.get("type")
            return f"{kind}: {detail}" if kind else str(detail)
        return None
    text = str(data).strip().lower()
    return str(data)[:300] if text.startswith(("error", "denied", "rejected")) else None


def _unwrap(data: Any) -> Any:
    return data["result"] if isinstance(data, dict) and isinstance(data.get("result"), dict) else data


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def first_match(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(0) if match else None


def offered(name: str, tool_names: set[str]) -> bool:
    return not tool_names or name in tool_names


class StandIns:
    """Several agents' stand-ins behind one scripted model: each request goes to the stand-in of the
    agent whose tools it offers (agents' tool sets differ), else to the first."""

    def __init__(self, policies: list[tuple[frozenset[str], Policy]]) -> None:
        self._policies = policies

    def reply(self, messages: list[dict[str, Any]], tool_names: set[str]) -> ScriptedReply:
        for tools, policy in self._policies:
            if tool_names and tool_names <= tools:
                return policy.reply(messages, tool_names)
        if not self._policies:
            return ScriptedReply(content="(no stand-in model serves this agent)")
        return self._policies[0][1].reply(messages, tool_names)
