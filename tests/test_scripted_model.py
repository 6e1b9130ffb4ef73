"""The scripted model: script selection, fail_first, raw bodies, and the DemoPolicy walk-through."""

from __future__ import annotations

import json
from typing import Any

import pytest

from activities.llm.factory import build_provider
from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import (
    EXHAUSTED,
    ScriptBook,
    ScriptedReply,
    ScriptedToolCall,
    ScriptedTransport,
)
from agents.merchant_support.stand_in import DemoPolicy
from core.config import Settings
from core.errors import RateLimitedError, TransientError
from core.models import ChatMessage, LlmRequest, LlmResponse, ToolCall, ToolSchema

DEMO_TOOLS = tuple(
    ToolSchema(name=n, description=n, parameters={"type": "object"})
    for n in (
        "get_transaction",
        "get_merchant_account",
        "search_knowledge_base",
        "create_support_ticket",
        "initiate_refund",
        "escalate_to_human",
    )
)


def req(*messages: ChatMessage) -> LlmRequest:
    return LlmRequest(workflow_id="wf", turn=0, messages=messages, tools=DEMO_TOOLS, prompt_version="v1")


def scripted(book: ScriptBook) -> OpenAIProvider:
    return OpenAIProvider(
        "http://scripted.invalid/v1", default_model="scripted", transport=ScriptedTransport(book)
    )


def user(text: str) -> ChatMessage:
    return ChatMessage(role="user", content=text)


def assistant_from(resp: LlmResponse, turn: int) -> ChatMessage:
    calls = tuple(c.model_copy(update={"id": f"t{turn}-{i}"}) for i, c in enumerate(resp.tool_calls))
    return ChatMessage(role="assistant", content=resp.content, tool_calls=calls)


def observe(call: ToolCall, result: Any) -> ChatMessage:
    return ChatMessage(role="tool", content=json.dumps(result), tool_call_id=call.id, name=call.name)


async def test_first_matching_key_and_turn_index() -> None:
    book = ScriptBook(
        {
            "refund": [
                ScriptedReply(
                    tool_calls=[ScriptedToolCall(name="get_transaction", arguments={"transaction_id": "p"})]
                ),
                ScriptedReply(content="done"),
            ],
            "pay_": [ScriptedReply(content="other")],
        }
    )
    model = scripted(book)
    first = await model.complete(req(user("refund pay_1")))
    assert [c.name for c in first.tool_calls] == ["get_transaction"] and first.model == "scripted"
    second = await model.complete(req(user("refund pay_1"), assistant_from(first, 0)))
    assert second.content == "done"
    third = await model.complete(
        req(user("refund pay_1"), assistant_from(first, 0), assistant_from(second, 1))
    )
    assert third.content == EXHAUSTED
    assert (await model.complete(req(user("look at pay_1")))).content == "other"
    assert "no script" in (await model.complete(req(user("hello")))).content


async def test_fail_first_then_success_on_the_same_turn() -> None:
    flaky = ScriptedReply(content="ok", status=429, headers={"Retry-After": "2"}, fail_first=2)
    model = scripted(ScriptBook({"task": [flaky]}))
    for _ in range(2):
        with pytest.raises(RateLimitedError) as info:
            await model.complete(req(user("task")))
        assert info.value.retry_after is not None and info.value.retry_after.total_seconds() == 2
    assert (await model.complete(req(user("task")))).content == "ok"


async def test_raw_body_and_malformed_arguments() -> None:
    book = ScriptBook(
        {
            "bad body": [ScriptedReply(body="not json at all")],
            "bad args": [
                ScriptedReply(tool_calls=[ScriptedToolCall(name="get_transaction", arguments="{oops")])
            ],
        }
    )
    model = scripted(book)
    with pytest.raises(TransientError):
        await model.complete(req(user("bad body")))
    resp = await model.complete(req(user("bad args")))
    assert resp.tool_calls[0].arguments == {} and resp.tool_calls[0].arguments_error


async def test_usage_is_deterministic() -> None:
    model = scripted(ScriptBook({"x": [ScriptedReply(content="a" * 40)]}))
    one = await model.complete(req(user("x" * 400)))
    two = await model.complete(req(user("x" * 400)))
    assert one.usage == two.usage and one.usage.prompt_tokens == 100 and one.usage.completion_tokens == 10
    assert one.cost_usd == 0.0


TASK = "Merchant MID1042 says pay_8Hx2 was charged twice. Please refund the duplicate."
TXN = {
    "id": "pay_8Hx2",
    "merchant_id": "MID1042",
    "amount": 49.99,
    "currency": "EUR",
    "status": "succeeded",
    "possible_duplicates": ["pay_9Kz3"],
}


async def test_demo_policy_walks_the_duplicate_refund_case() -> None:
    book = ScriptBook({}, fallback=DemoPolicy())
    model = build_provider(Settings(llm_provider="scripted"), script_book=book)
    history: list[ChatMessage] = [ChatMessage(role="system", content="You are a support agent."), user(TASK)]

    first = await model.complete(req(*history))
    assert [(c.name, c.arguments) for c in first.tool_calls] == [
        ("get_transaction", {"transaction_id": "pay_8Hx2"}),
        ("get_merchant_account", {"merchant_id": "MID1042"}),
    ]
    turn0 = assistant_from(first, 0)
    history += [
        turn0,
        observe(turn0.tool_calls[0], TXN),
        observe(turn0.tool_calls[1], {"id": "MID1042", "status": "active"}),
    ]

    second = await model.complete(req(*history))
    assert [(c.name, c.arguments) for c in second.tool_calls] == [
        (
            "initiate_refund",
            {
                "transaction_id": "pay_9Kz3",
                "amount": 49.99,
                "currency": "EUR",
                "reason": "duplicate charge of pay_8Hx2",
            },
        )
    ]
    turn1 = assistant_from(second, 1)
    history += [
        turn1,
        observe(turn1.tool_calls[0], {"refund_id": "re_77", "amount": 49.99, "currency": "EUR"}),
    ]

    final = await model.complete(req(*history))
    assert final.tool_calls == ()
    assert "re_77" in final.content and "49.99 EUR" in final.content and "pay_9Kz3" in final.content


def policy(*messages: dict[str, Any]) -> ScriptedReply:
    return DemoPolicy().reply(list(messages), set())


def _turn(name: str, args: dict[str, Any], result: Any) -> list[dict[str, Any]]:
    call = {"id": "c", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
    return [
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c", "content": json.dumps(result)},
    ]


def test_demo_refunds_the_observed_charge_when_it_is_the_duplicate() -> None:
    txn = {"id": "pay_2", "amount": 5, "currency": "USD", "duplicate_of": "pay_1"}
    reply = policy({"role": "user", "content": "refund pay_2 please"}, *_turn("get_transaction", {}, txn))
    assert reply.tool_calls[0].arguments == {
        "transaction_id": "pay_2",
        "amount": 5,
        "currency": "USD",
        "reason": "duplicate charge of pay_2",
    }


def test_demo_picks_the_later_charge_when_details_are_given() -> None:
    txn = {
        "id": "pay_2",
        "amount": 5,
        "currency": "USD",
        "created_at": "2026-01-01T10:05:00Z",
        "possible_duplicates": [{"id": "pay_1", "created_at": "2026-01-01T10:00:00Z"}],
    }
    reply = policy({"role": "user", "content": "duplicate on pay_2"}, *_turn("get_transaction", {}, txn))
    assert (
        isinstance(reply.tool_calls[0].arguments, dict)
        and reply.tool_calls[0].arguments["transaction_id"] == "pay_2"
    )


def test_demo_answers_honestly_on_denial_and_no_duplicate() -> None:
    denied = {"error_type": "denied", "error": "approver said no"}
    reply = policy({"role": "user", "content": "refund pay_1"}, *_turn("initiate_refund", {}, denied))
    assert not reply.tool_calls and "approver said no" in reply.content
    reply = policy(
        {"role": "user", "content": "refund pay_1"},
        *_turn("get_transaction", {}, {"id": "pay_1", "amount": 3}),
    )
    assert not reply.tool_calls and "no duplicate" in reply.content


def test_demo_escalates_and_handles_unknown_tasks() -> None:
    reply = policy({"role": "user", "content": "I want a manager now! MID7"})
    assert [c.name for c in reply.tool_calls] == ["escalate_to_human"]
    reply = policy(
        {"role": "user", "content": "manager please"}, *_turn("escalate_to_human", {}, {"ticket": "H1"})
    )
    assert not reply.tool_calls and "escalated" in reply.content
    reply = policy({"role": "user", "content": "hello there"})
    assert not reply.tool_calls and "payment id" in reply.content
