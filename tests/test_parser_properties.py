"""Property-based tests: the lenient tool-call parser and tool-argument validation never crash."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.llm.parsing import parse_arguments, parse_tool_calls
from agents.merchant_support.tools import REGISTRY
from core.errors import InvalidInputError
from core.models import ToolCall
from workflows.routing import route

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOOL_NAMES = REGISTRY.names()
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
hostile_text = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from(list('{}[]":,\\`<>/\x00\n')), max_size=300
)
arg_dicts = st.dictionaries(
    st.sampled_from(["transaction_id", "merchant_id", "amount", "currency", "reason", "query", "limit"])
    | st.text(max_size=12),
    json_values,
    max_size=6,
)


@SETTINGS
@given(hostile_text)
def test_parser_never_raises_and_is_consistent(text: str) -> None:
    reply = parse_tool_calls(text, TOOL_NAMES)
    assert isinstance(reply.content, str)
    if reply.parse_error is not None:
        assert reply.tool_calls == []  # an unparseable attempt never half-runs
    for found in reply.tool_calls:
        assert found.name.strip() == found.name and found.name
        assert isinstance(found.arguments, dict)


@SETTINGS
@given(
    st.sampled_from(TOOL_NAMES),
    st.dictionaries(st.text(min_size=1, max_size=10), json_values, max_size=4),
    st.text(alphabet=st.characters(blacklist_characters="{}[]`<>"), max_size=80),
    st.sampled_from(["plain", "fenced", "tag", "openai", "list"]),
)
def test_a_call_wrapped_in_prose_is_found(name: str, args: dict[str, Any], prose: str, shape: str) -> None:
    body = json.dumps({"name": name, "arguments": args})
    text = {
        "plain": f"{prose}\n{body}",
        "fenced": f"{prose}\n```json\n{body}\n```",
        "tag": f"{prose}<tool_call>{body}</tool_call>",
        "openai": f"{prose} "
        + json.dumps({"type": "function", "function": {"name": name, "arguments": args}}),
        "list": f"{prose} [{body}]",
    }[shape]
    reply = parse_tool_calls(text, TOOL_NAMES)
    assert reply.parse_error is None
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [(name, args)]
    assert body not in reply.content


@SETTINGS
@given(st.one_of(json_values, hostile_text, st.binary(max_size=50).map(lambda b: b.decode("latin-1"))))
def test_arguments_are_a_dict_or_an_error(raw: Any) -> None:
    arguments, error = parse_arguments(raw)
    assert isinstance(arguments, dict)
    assert error is None or (isinstance(error, str) and arguments == {})


@SETTINGS
@given(st.sampled_from(TOOL_NAMES), arg_dicts)
def test_validation_accepts_or_raises_invalid_input_only(name: str, args: dict[str, Any]) -> None:
    spec = REGISTRY.get(name)
    try:
        parsed = spec.validate(args)
    except InvalidInputError as err:
        assert err.details and err.details["fields"]
        return
    canonical = parsed.model_dump(mode="json")
    assert spec.validate(canonical).model_dump(mode="json") == canonical  # validation is idempotent


@SETTINGS
@given(st.text(max_size=30), arg_dicts, st.none() | st.text(max_size=50))
def test_routing_never_raises(name: str, args: dict[str, Any], arguments_error: str | None) -> None:
    routed = route(ToolCall(id="c1", name=name, arguments=args, arguments_error=arguments_error), REGISTRY)
    assert (routed.error is None) == (routed.spec is not None)
    if routed.error is not None:
        assert routed.error.type_name in ("InvalidInputError", "ToolNotFoundError")


@SETTINGS
@given(
    st.from_regex(r"pay_[A-Za-z0-9]{3,32}", fullmatch=True),
    st.decimals(min_value="0.01", max_value="1000000", places=2),
    st.from_regex(r"[A-Za-z]{3}", fullmatch=True),
    st.text(min_size=1, max_size=1000).filter(str.strip),
)
def test_valid_refund_arguments_are_accepted(txn: str, amount: Any, currency: str, reason: str) -> None:
    args = {"transaction_id": txn, "amount": str(amount), "currency": currency, "reason": reason}
    parsed = REGISTRY.get("initiate_refund").validate(args).model_dump(mode="json")
    assert parsed["transaction_id"] == txn and parsed["currency"] == currency.upper()
