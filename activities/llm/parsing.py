"""Lenient tool-call parsing for models that write their calls as JSON text instead of native tool_calls.

Pure functions that never raise. Recognised, anywhere in the text and with prose around them:
    {"name": ..., "arguments"|"parameters": {...} | "<json string>"}
    {"tool": ..., "args": {...}}            {"function": {"name": ..., "arguments": ...}}
    {"tool_calls": [...]}                   a JSON list of any of these
    ```json fenced blocks```                <tool_call>...</tool_call> tags (Qwen), possibly several
JSON is found with `json.JSONDecoder.raw_decode` at each bracket, never with regexes over braces.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any, NamedTuple

from core.models import ToolCall

MAX_SCAN_CHARS = 200_000
MAX_DECODE_ATTEMPTS = 5_000  # bounds the work on adversarial text full of brackets
_DECODER = json.JSONDecoder()
_TAG = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
# A fragment that starts like a call; if it fails to decode, the model clearly tried to call a tool.
_ATTEMPT = re.compile(r'\{\s*"(?:name|tool|function|tool_calls)"\s*:')
_FENCE_OPEN = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\r?\n?[ \t]*\Z")
_FENCE_CLOSE = re.compile(r"\s*```")  # used with .match(): anchored at the end of the JSON
_CALL_HINT = 'write {"name": "<tool>", "arguments": {...}}'


class ParsedReply(NamedTuple):
    content: str
    tool_calls: list[ToolCall]
    parse_error: str | None


class _Draft(NamedTuple):
    name: str
    arguments: dict[str, Any]
    arguments_error: str | None


def parse_tool_calls(text: str, known_tools: Collection[str] = ()) -> ParsedReply:
    """Split a reply into prose and tool calls; `known_tools` empty means any name is accepted."""
    try:
        return _parse(text if isinstance(text, str) else str(text), frozenset(known_tools))
    except Exception as exc:  # a parser bug must become a model-visible error, never a crashed activity
        return ParsedReply(text if isinstance(text, str) else "", [], f"could not parse tool call: {exc}")


def _parse(text: str, known: frozenset[str]) -> ParsedReply:
    scanned, rest = text[:MAX_SCAN_CHARS], text[MAX_SCAN_CHARS:]
    if "<tool_call>" in scanned:
        prose, drafts, error = _parse_tags(scanned, known)
    else:
        prose, drafts, error = _scan(scanned, known)
    prose = _tidy(prose + rest)
    if error is not None:
        return ParsedReply(prose, [], error)
    calls = [
        ToolCall(id=f"call_{i}", name=d.name, arguments=d.arguments, arguments_error=d.arguments_error)
        for i, d in enumerate(drafts)
    ]
    return ParsedReply(prose, calls, None)


def _parse_tags(text: str, known: frozenset[str]) -> tuple[str, list[_Draft], str | None]:
    """Qwen-style tags: each tag body must hold a call; the text outside the tags is the prose."""
    drafts: list[_Draft] = []
    for match in _TAG.finditer(text):
        body = match.group(1)
        _, found, error = _scan(body, known)
        if error is not None:
            return _TAG.sub(" ", text), [], error
        if not found:
            snippet = body.strip()[:80]
            return (
                _TAG.sub(" ", text),
                [],
                f"could not parse tool call in <tool_call> tag {snippet!r}; {_CALL_HINT}",
            )
        drafts.extend(found)
    return _TAG.sub(" ", text), drafts, None


def _scan(text: str, known: frozenset[str]) -> tuple[str, list[_Draft], str | None]:
    """Decode JSON at every bracket; keep call-shaped values, step over other JSON, note failed attempts."""
    drafts: list[_Draft] = []
    spans: list[tuple[int, int]] = []
    failure: str | None = None
    pos, attempts = 0, 0
    while attempts < MAX_DECODE_ATTEMPTS:
        pos = _next_bracket(text, pos)
        if pos < 0:
            break
        attempts += 1
        try:
            value, end = _DECODER.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            if failure is None and _ATTEMPT.match(text, pos):
                failure = f"could not parse tool call JSON ({_reason(exc)}); {_CALL_HINT}"
            # Too deep here means too deep at every bracket of this run: skip it instead of retrying each.
            pos = _skip_run(text, pos) if isinstance(exc, RecursionError) else pos + 1
            continue
        found = _calls_from(value, known)
        if found:
            drafts.extend(found)
            spans.append(_with_fence(text, pos, end))
        pos = end
    if failure is not None:
        return _cut(text, spans), [], failure
    return _cut(text, spans), drafts, None


def _next_bracket(text: str, start: int) -> int:
    brace, square = text.find("{", start), text.find("[", start)
    if brace < 0 or square < 0:
        return max(brace, square)
    return min(brace, square)


def _skip_run(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in "[{ \t\r\n":
        pos += 1
    return pos


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return f"{exc.msg} at char {exc.pos}" if isinstance(exc, json.JSONDecodeError) else type(exc).__name__


def _with_fence(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a span to swallow the ```json fence around it, so no empty fence is left in the prose."""
    before = _FENCE_OPEN.search(text, max(0, start - 40), start)
    after = _FENCE_CLOSE.match(text, end)
    if before and after:
        return before.start(), after.end()
    return start, end


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    parts, last = [], 0
    for start, end in spans:
        parts.append(text[last:start])
        last = end
    parts.append(text[last:])
    # Small models wrap calls in stray brackets ("{{...}}}"); leftovers with no words are not prose.
    kept = [p.strip() for p in parts if p.strip(" \t\r\n{}[],")]
    return "\n".join(kept) if spans else text


def _tidy(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _calls_from(value: Any, known: frozenset[str]) -> list[_Draft]:
    """All the calls in a decoded value, or [] if it is not entirely call-shaped (then it is prose)."""
    if isinstance(value, list):
        drafts = [_call_from(item, known) for item in value]
        if not value or any(d is None for d in drafts):
            return []
        return [d for d in drafts if d is not None]
    if isinstance(value, dict) and isinstance(value.get("tool_calls"), list):
        return _calls_from(value["tool_calls"], known)
    draft = _call_from(value, known)
    return [draft] if draft else []


def _call_from(value: Any, known: frozenset[str]) -> _Draft | None:
    if not isinstance(value, dict):
        return None
    function = value.get("function")
    if isinstance(function, dict):  # OpenAI shape: {"type": "function", "function": {...}}
        value = function
    name = value.get("name", value.get("tool", function if isinstance(function, str) else None))
    if not isinstance(name, str) or not name.strip():
        return None
    keys = ("arguments", "parameters", "args", "input")
    present = [k for k in keys if k in value]
    # Without an arguments key only a known tool name counts: {"name": "Alice"} is data, not a call.
    if not present and name not in known:
        return None
    raw = value[present[0]] if present else {}
    arguments, error = _arguments(raw)
    return _Draft(name.strip(), arguments, error)


def _arguments(raw: Any) -> tuple[dict[str, Any], str | None]:
    """Arguments as a dict; anything that is not a JSON object is kept as an error for routing."""
    if raw is None:
        return {}, None
    if isinstance(raw, str):
        if not raw.strip():
            return {}, None
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            return {}, f"arguments are not valid JSON ({_reason(exc)}): {raw[:200]!r}"
    if isinstance(raw, dict):
        return raw, None
    return {}, f"arguments must be a JSON object, got {type(raw).__name__}"


def parse_arguments(raw: Any) -> tuple[dict[str, Any], str | None]:
    """Public form of the arguments rule, shared with native tool_calls parsing."""
    return _arguments(raw)
