"""The bounded prompt: system + task + running summary + the most recent turns, under a token budget.

Token counts are estimated deterministically (characters per token, ceiling, plus a per-message
overhead) and scaled by a ratio calibrated against the provider's reported usage, so replay sees the
same numbers. A turn (the assistant message and every tool message answering it) is never split.
"""

from __future__ import annotations

import json
import math
from typing import Any

from core.guardrails import ContextSettings, Strategy
from core.models import ChatMessage

SUMMARY_HEADER = "Summary of the earlier turns of this case (identifiers are exact):\n"
RATIO_BOUNDS = (0.25, 4.0)


def estimate_tokens(text: str, chars_per_token: float = 4.0) -> int:
    return math.ceil(len(text) / chars_per_token)


def estimate_message(message: ChatMessage, settings: ContextSettings, ratio: float = 1.0) -> int:
    raw = math.ceil(counted_chars(message) / settings.chars_per_token)
    return math.ceil(raw * ratio) + settings.message_overhead_tokens


# Every turn re-estimates the whole prompt, and a message never changes (frozen): its count is kept,
# keyed by identity, so a turn's estimate costs a lookup per old message instead of a JSON dump of
# its tool calls. Each entry holds its message, so an id cannot be reused while it is cached; a pure
# memo, so replay computes the same numbers whatever it holds.
_COUNTED: dict[int, tuple[ChatMessage, int]] = {}
MAX_COUNTED = 20_000


def counted_chars(message: ChatMessage) -> int:
    """Content plus each tool call's name and sorted-key JSON arguments, in characters."""
    hit = _COUNTED.get(id(message))
    if hit is not None and hit[0] is message:
        return hit[1]
    calls = "".join(c.name + json.dumps(c.arguments, sort_keys=True) for c in message.tool_calls)
    chars = len(message.content) + len(calls)
    if len(_COUNTED) >= MAX_COUNTED:
        _COUNTED.clear()
    _COUNTED[id(message)] = (message, chars)
    return chars


def estimate_messages(messages: list[ChatMessage], settings: ContextSettings, ratio: float = 1.0) -> int:
    """The prompt estimate the budgets check uses before each call."""
    return sum(estimate_message(m, settings, ratio) for m in messages)


def calibrate(estimated: int, reported: int, previous: float = 1.0, weight: float = 0.5) -> float:
    """Move the estimate/reality ratio toward reported/estimated; bounded so one odd reply can't skew it."""
    if estimated <= 0 or reported <= 0:
        return previous
    observed = min(max(reported / estimated, RATIO_BOUNDS[0]), RATIO_BOUNDS[1])
    return round(previous + weight * (observed - previous), 6)


# ── observations ────────────────────────────────────────────────────────────


def truncate_observation(text: str, strategy: Strategy, max_chars: int) -> str:
    """Cut a tool's observation to `max_chars`, ending with a note of what was cut."""
    if len(text) <= max_chars:
        return text
    if strategy == "records":
        kept = _keep_records(text, max_chars)
        if kept is not None:
            return kept
    if strategy == "head_tail":
        head, tail = max_chars * 2 // 3, max_chars // 3
        cut = len(text) - head - tail
        return f"{text[:head]}\n[… cut {cut} characters from the middle …]\n{text[len(text) - tail :]}"
    return f"{text[:max_chars]}\n[… cut the last {len(text) - max_chars} of {len(text)} characters]"


def _keep_records(text: str, max_chars: int) -> str | None:
    """Keep whole items of a `results` array (top level or under `result`); None if there is none."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    holder = _results_holder(data)
    if holder is None:
        return None
    items: list[Any] = holder["results"]
    kept: list[Any] = []
    for item in items:
        holder["results"] = [*kept, item]
        if len(_dump(data)) > max_chars:
            break
        kept.append(item)
    holder["results"] = kept
    holder["truncated_note"] = f"kept {len(kept)} of {len(items)} results; {len(items) - len(kept)} cut whole"
    return _dump(data)


def _results_holder(data: Any) -> dict[str, Any] | None:
    for candidate in (data, data.get("result") if isinstance(data, dict) else None):
        if isinstance(candidate, dict) and isinstance(candidate.get("results"), list):
            return candidate
    return None


def _dump(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


def truncate_for_tool(
    text: str, tool: str, settings: ContextSettings, declared: Strategy | None = None
) -> str:
    strategy, max_chars = settings.strategy_for(tool, declared)
    return truncate_observation(text, strategy, max_chars)


# ── the prompt ──────────────────────────────────────────────────────────────


def group_turns(messages: list[ChatMessage]) -> list[list[ChatMessage]]:
    """Split the messages after system + task into turns: each starts at an assistant message."""
    turns: list[list[ChatMessage]] = []
    for message in messages:
        if message.role == "assistant" or not turns:
            turns.append([message])
        else:
            turns[-1].append(message)
    return turns


def summary_message(summary: str) -> ChatMessage | None:
    return ChatMessage(role="user", content=SUMMARY_HEADER + summary) if summary.strip() else None


def build_prompt(
    system: ChatMessage,
    task_msg: ChatMessage,
    summary: str,
    turns: list[list[ChatMessage]],
    settings: ContextSettings,
    ratio: float = 1.0,
) -> tuple[list[ChatMessage], list[list[ChatMessage]]]:
    """The messages of the next call, and the oldest turns that must be folded into the summary.

    When every turn fits, nothing is folded. Otherwise at most `recent_turns` of the newest turns that
    fit stay verbatim (always at least the newest one) and all older turns are returned to be folded,
    so a fold happens rarely and in one batch. Room for the summary is reserved at
    `summary_max_tokens`, so the folded summary still fits when the prompt is rebuilt.
    """
    head = [system, task_msg]
    summary_msg = summary_message(summary)
    fixed = estimate_messages(head, settings, ratio)
    current_summary = estimate_message(summary_msg, settings, ratio) if summary_msg else 0
    sizes = [estimate_messages(turn, settings, ratio) for turn in turns]
    if fixed + current_summary + sum(sizes) <= settings.max_context_tokens:
        return _assemble(head, summary_msg, turns), []
    room = settings.max_context_tokens - fixed - max(current_summary, settings.summary_max_tokens)
    keep = _newest_that_fit(sizes, room, settings.recent_turns)
    split = len(turns) - keep
    return _assemble(head, summary_msg, turns[split:]), turns[:split]


def _newest_that_fit(sizes: list[int], room: int, limit: int) -> int:
    kept, used = 0, 0
    for size in reversed(sizes):
        if kept >= limit or (kept > 0 and used + size > room):
            break
        kept, used = kept + 1, used + size
    return kept


def _assemble(
    head: list[ChatMessage], summary_msg: ChatMessage | None, turns: list[list[ChatMessage]]
) -> list[ChatMessage]:
    out = list(head)
    if summary_msg is not None:
        out.append(summary_msg)
    out.extend(message for turn in turns for message in turn)
    return out
