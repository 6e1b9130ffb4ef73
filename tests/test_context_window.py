"""The context window: deterministic estimates, truncation strategies, turns kept whole."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.guardrails import ContextSettings
from core.models import ChatMessage, ToolCall
from workflows.context_window import (
    SUMMARY_HEADER,
    build_prompt,
    calibrate,
    counted_chars,
    estimate_message,
    estimate_messages,
    estimate_tokens,
    group_turns,
    truncate_for_tool,
    truncate_observation,
)

SYSTEM = ChatMessage(role="system", content="You are a support agent.")
TASK = ChatMessage(role="user", content="Refund the duplicate of pay_1.")


def turn(n: int, size: int = 400) -> list[ChatMessage]:
    call = ToolCall(id=f"t{n}-1", name="get_transaction", arguments={"transaction_id": f"pay_{n}"})
    return [
        ChatMessage(role="assistant", content=f"step {n}", tool_calls=(call,)),
        ChatMessage(role="tool", content="x" * size, tool_call_id=call.id, name=call.name),
    ]


def test_a_message_is_counted_once_with_the_same_figure_as_a_fresh_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The per-message memo (each turn re-estimates the whole prompt) changes no number."""
    call = ToolCall(id="t1-1", name="get_transaction", arguments={"b": 1, "a": "é"})
    message = ChatMessage(role="assistant", content="look it up", tool_calls=(call,))
    fresh = len("look it up") + len("get_transaction" + json.dumps(call.arguments, sort_keys=True))
    dumps: list[object] = []
    real_dumps = json.dumps

    def counting_dumps(*args: Any, **kwargs: Any) -> str:
        dumps.append(args)
        return real_dumps(*args, **kwargs)

    monkeypatch.setattr("workflows.context_window.json.dumps", counting_dumps)
    assert counted_chars(message) == fresh and len(dumps) == 1
    assert counted_chars(message) == fresh and len(dumps) == 1  # second turn: no new dump
    twin = ChatMessage.model_validate_json(message.model_dump_json())  # equal, not the same object
    assert counted_chars(twin) == fresh and len(dumps) == 2
    monkeypatch.setattr("workflows.context_window.MAX_COUNTED", 3)
    for n in range(10):  # bounded: the memo empties itself instead of growing
        counted_chars(ChatMessage(role="user", content="x" * n))
    from workflows.context_window import _COUNTED

    assert len(_COUNTED) <= 3


def test_estimates_are_deterministic_ceilings_with_overhead() -> None:
    assert estimate_tokens("") == 0 and estimate_tokens("abcde") == 2
    settings = ContextSettings()
    message = ChatMessage(role="user", content="a" * 8)
    assert estimate_message(message, settings) == 2 + settings.message_overhead_tokens
    assert estimate_message(message, settings, ratio=1.5) == 3 + settings.message_overhead_tokens
    assert estimate_messages(turn(1), settings) == estimate_messages(turn(1), settings)


def test_calibration_moves_toward_reported_and_is_bounded() -> None:
    assert calibrate(100, 150) == 1.25
    assert calibrate(100, 150, previous=1.25) == 1.375
    assert calibrate(100, 10_000) == 2.5  # a wild report moves it at most to the bound's midpoint
    assert calibrate(0, 50, previous=1.2) == 1.2


def test_head_truncation_notes_the_cut() -> None:
    out = truncate_observation("a" * 100, "head", 40)
    assert out.startswith("a" * 40) and "cut the last 60 of 100 characters" in out
    assert truncate_observation("short", "head", 40) == "short"


def test_head_tail_keeps_both_ends() -> None:
    text = "HEAD" + "m" * 200 + "TAIL"
    out = truncate_observation(text, "head_tail", 60)
    assert out.startswith("HEAD") and out.endswith("TAIL") and "cut 148 characters from the middle" in out


def test_records_keep_whole_results() -> None:
    hits = [{"doc": f"policy-{i}", "text": "t" * 50} for i in range(10)]
    text = json.dumps({"ok": True, "result": {"results": hits}})
    out = json.loads(truncate_observation(text, "records", 300))
    kept = out["result"]["results"]
    assert 0 < len(kept) < 10 and kept == hits[: len(kept)]
    assert out["result"]["truncated_note"] == f"kept {len(kept)} of 10 results; {10 - len(kept)} cut whole"
    # Not JSON with a results array: falls back to the head.
    assert "cut the last" in truncate_observation("z" * 500, "records", 100)


def test_strategy_per_tool_from_settings() -> None:
    settings = ContextSettings(max_observation_chars={"head": 10, "head_tail": 10, "records": 10})
    assert "cut the last" in truncate_for_tool("q" * 50, "get_transaction", settings)
    assert "middle" in truncate_for_tool(
        "q" * 50, "read_file", settings.model_copy(update={"default_strategy": "head_tail"})
    )


def test_everything_fits_nothing_is_folded() -> None:
    turns = [turn(1), turn(2)]
    messages, fold = build_prompt(SYSTEM, TASK, "", turns, ContextSettings())
    assert fold == [] and messages == [SYSTEM, TASK, *turns[0], *turns[1]]


def test_old_turns_are_folded_and_recent_ones_kept_whole() -> None:
    settings = ContextSettings(max_context_tokens=1000, recent_turns=2, summary_max_tokens=200)
    turns = [turn(n) for n in range(1, 9)]
    messages, fold = build_prompt(SYSTEM, TASK, "found pay_1", turns, settings)
    assert fold == turns[:6]
    assert messages[:2] == [SYSTEM, TASK] and messages[2].content == SUMMARY_HEADER + "found pay_1"
    assert messages[3:] == [*turns[6], *turns[7]]
    assert estimate_messages(messages, settings) <= settings.max_context_tokens


def test_a_tool_message_never_leaves_its_assistant_message() -> None:
    settings = ContextSettings(max_context_tokens=600, recent_turns=4, summary_max_tokens=100)
    turns = [turn(n, size=n * 150) for n in range(1, 6)]
    messages, fold = build_prompt(SYSTEM, TASK, "", turns, settings)
    called = {c.id for m in messages for c in m.tool_calls}
    answered = {m.tool_call_id for m in messages if m.role == "tool"}
    assert called == answered and fold  # the newest turn is kept even though it is large
    assert [m for t in fold for m in t] + messages[2:] == [m for t in turns for m in t]


def test_group_turns_starts_each_turn_at_an_assistant_message() -> None:
    nudge = [ChatMessage(role="assistant", content="?"), ChatMessage(role="user", content="answer please")]
    flat = [*turn(1), *nudge, *turn(2)]
    assert group_turns(flat) == [turn(1), nudge, turn(2)]
