"""The lenient tool-call parser: every recognised format, prose around it, malformed input, properties."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activities.llm import parsing
from activities.llm.parsing import MAX_SCAN_CHARS, parse_tool_calls

TOOLS = {"get_transaction", "initiate_refund"}
CALL = {"name": "get_transaction", "arguments": {"transaction_id": "pay_1"}}


def one_call(text: str, tools: set[str] = TOOLS) -> tuple[str, str, dict[str, Any]]:
    content, calls, error = parse_tool_calls(text, tools)
    assert error is None, error
    assert len(calls) == 1
    return content, calls[0].name, calls[0].arguments


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(CALL),
        json.dumps({"name": "get_transaction", "parameters": {"transaction_id": "pay_1"}}),
        json.dumps({"name": "get_transaction", "arguments": json.dumps({"transaction_id": "pay_1"})}),
        json.dumps({"tool": "get_transaction", "args": {"transaction_id": "pay_1"}}),
        json.dumps({"function": {"name": "get_transaction", "arguments": {"transaction_id": "pay_1"}}}),
        json.dumps(
            {
                "type": "function",
                "function": {"name": "get_transaction", "arguments": '{"transaction_id": "pay_1"}'},
            }
        ),
        json.dumps([CALL]),
        json.dumps({"tool_calls": [CALL]}),
        "```json\n" + json.dumps(CALL, indent=2) + "\n```",
        "<tool_call>\n" + json.dumps(CALL) + "\n</tool_call>",
        "<tool_call>" + json.dumps(CALL),  # unclosed tag: the model stopped at max tokens
    ],
)
def test_recognised_formats(text: str) -> None:
    content, name, args = one_call(text)
    assert (name, args, content) == ("get_transaction", {"transaction_id": "pay_1"}, "")


def test_prose_around_json_is_kept_as_the_thought() -> None:
    text = "Let me look that up.\n```json\n" + json.dumps(CALL) + "\n```\nThen I will decide."
    content, name, _ = one_call(text)
    assert name == "get_transaction"
    assert content == "Let me look that up.\nThen I will decide."


def test_stray_brackets_around_a_call_are_dropped() -> None:
    # Seen from Qwen2.5-Coder-1.5B on this machine.
    content, name, _ = one_call("{{" + json.dumps(CALL)[1:] + "}")
    assert (content, name) == ("", "get_transaction")


def test_several_qwen_tags_give_several_calls_in_order() -> None:
    refund = {"name": "initiate_refund", "arguments": {"transaction_id": "pay_2", "amount": 10}}
    text = f"Checking.<tool_call>{json.dumps(CALL)}</tool_call>\n<tool_call>{json.dumps(refund)}</tool_call>"
    content, calls, error = parse_tool_calls(text, TOOLS)
    assert error is None and content == "Checking."
    assert [(c.id, c.name) for c in calls] == [("call_0", "get_transaction"), ("call_1", "initiate_refund")]


def test_two_bare_objects_in_prose() -> None:
    text = f"First {json.dumps(CALL)} and then {json.dumps({'name': 'initiate_refund', 'arguments': {}})}."
    content, calls, error = parse_tool_calls(text, TOOLS)
    assert error is None and [c.name for c in calls] == ["get_transaction", "initiate_refund"]
    assert content == "First\nand then\n."


def test_plain_answer_and_non_call_json_are_prose() -> None:
    for text in [
        "The refund was issued.",
        'Data: {"amount": 5, "currency": "EUR"}',
        '{"name": "Alice"}',
        "[1, 2]",
    ]:
        content, calls, error = parse_tool_calls(text, TOOLS)
        assert (content, calls, error) == (text, [], None)


def test_unknown_name_with_arguments_is_still_a_call_for_routing() -> None:
    _, name, _ = one_call(json.dumps({"name": "get_transction", "arguments": {}}))
    assert name == "get_transction"


def test_known_name_without_arguments_key_is_a_call() -> None:
    _, name, args = one_call('{"name": "get_transaction"}')
    assert (name, args) == ("get_transaction", {})


def test_empty_tool_set_accepts_any_name() -> None:
    _, name, _ = one_call(json.dumps({"name": "anything", "arguments": {"x": 1}}), set())
    assert name == "anything"


@pytest.mark.parametrize("raw", ['{"transaction_id": "pay_1"', "[1, 2]", '"just text"'])
def test_arguments_that_are_not_an_object_keep_the_call_with_an_error(raw: str) -> None:
    _, calls, error = parse_tool_calls(json.dumps({"name": "get_transaction", "arguments": raw}), TOOLS)
    assert error is None and calls[0].arguments == {} and calls[0].arguments_error


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "get_transaction", "arguments": {"transaction_id": "pay_1"}',  # missing brace
        "I'll call it: {\"name\": 'get_transaction', arguments: {}}",
        "<tool_call>{not json}</tool_call>",
        "<tool_call>just words</tool_call>",
        '```json\n{"name": "get_transaction", "arguments": {"transaction_id": }\n```',
    ],
)
def test_failed_attempts_set_parse_error_and_no_calls(text: str) -> None:
    _, calls, error = parse_tool_calls(text, TOOLS)
    assert calls == [] and error and "tool call" in error


def test_one_good_and_one_broken_call_yield_only_the_error() -> None:
    text = json.dumps(CALL) + ' {"name": "initiate_refund", "arguments": {'
    _, calls, error = parse_tool_calls(text, TOOLS)
    assert calls == [] and error


def test_huge_and_deeply_nested_input_is_bounded() -> None:
    for text in ["[" * 100_000, "{" * 300_000, "x" * (MAX_SCAN_CHARS + 10) + json.dumps(CALL)]:
        content, calls, _ = parse_tool_calls(text, TOOLS)
        assert calls == [] and isinstance(content, str)


# ── properties ──────────────────────────────────────────────────────────────

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
fragments = st.sampled_from(
    ["{", "}", "[", "]", '"', "```json\n", "```", "<tool_call>", "</tool_call>", '{"name":', ":", ","]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=30) | fragments, max_size=20))
def test_arbitrary_text_never_raises(pieces: list[str]) -> None:
    # The inner parser, not the public wrapper, so a swallowed bug cannot hide behind the safety net.
    content, calls, error = parsing._parse("".join(pieces), frozenset(TOOLS))
    assert isinstance(content, str) and isinstance(calls, list)
    assert error is None or not calls


@settings(max_examples=200, deadline=None)
@given(
    names,
    st.dictionaries(st.text(max_size=10), json_values, max_size=4),
    st.sampled_from(["bare", "fenced", "tagged", "list"]),
    st.text(alphabet=st.characters(blacklist_characters="{}[]<>`\"'"), max_size=40),
)
def test_generated_call_round_trips(name: str, args: dict[str, Any], style: str, prose: str) -> None:
    payload = json.dumps({"name": name, "arguments": args})
    wrapped = {
        "bare": payload,
        "fenced": f"```json\n{payload}\n```",
        "tagged": f"<tool_call>{payload}</tool_call>",
        "list": f"[{payload}]",
    }[style]
    content, calls, error = parse_tool_calls(f"{prose}\n{wrapped}", set())
    assert error is None
    assert [(c.name, c.arguments) for c in calls] == [(name, args)]
    # Leftovers made only of brackets, commas and blanks are the stray wrapping small models emit
    # around calls, not prose: the parser drops them by design (parsing._cut).
    expected = prose.strip() if prose.strip(" \t\r\n{}[],") else ""
    assert content == expected
