"""OpenAIProvider against httpx.MockTransport: request shape, reply parsing, usage, error classification."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from activities.llm.http_errors import retry_after
from activities.llm.openai_provider import OpenAIProvider
from core.errors import (
    AuthError,
    ContentFilteredError,
    ContextOverflowError,
    InvalidInputError,
    RateLimitedError,
    TransientError,
)
from core.models import ChatMessage, LlmRequest, ModelSettings, ToolCall, ToolSchema

BASE = "https://llm.example.test/v1"
KEY = "sk-secret-abc123"
TOOL = ToolSchema(
    name="get_transaction",
    description="Look up a payment",
    parameters={"type": "object", "properties": {"transaction_id": {"type": "string"}}},
)


def request(**overrides: Any) -> LlmRequest:
    messages = (
        ChatMessage(role="system", content="You are helpful."),
        ChatMessage(role="user", content="Check pay_1"),
        ChatMessage(
            role="assistant",
            content="",
            tool_calls=(ToolCall(id="t0-0", name="get_transaction", arguments={"transaction_id": "pay_1"}),),
        ),
        ChatMessage(role="tool", content='{"status": "ok"}', tool_call_id="t0-0", name="get_transaction"),
    )
    fields: dict[str, Any] = {
        "workflow_id": "wf-1",
        "turn": 1,
        "messages": messages,
        "tools": (TOOL,),
        "settings": ModelSettings(temperature=0.2, max_output_tokens=200, seed=11),
        "prompt_version": "v1",
    }
    return LlmRequest(**{**fields, **overrides})


def completion(message: dict[str, Any], usage: dict[str, int] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "choices": [{"message": message, "finish_reason": "stop"}],
    }
    if usage is not None:
        body["usage"] = usage
    return {**body, **extra}


def provider(handler: Callable[[httpx.Request], httpx.Response]) -> OpenAIProvider:
    return OpenAIProvider(
        BASE, api_key=KEY, default_model="gpt-4o-mini", transport=httpx.MockTransport(handler)
    )


async def test_request_body_shape() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json=completion({"role": "assistant", "content": "done"}))

    await provider(handler).complete(request())
    sent = seen[0]
    body = json.loads(sent.content)
    assert str(sent.url) == f"{BASE}/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert body["model"] == "gpt-4o-mini"
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.2, 200, 11)
    assert body["tools"] == [{"type": "function", "function": TOOL.model_dump()}]
    assistant, tool = body["messages"][2], body["messages"][3]
    assert assistant["content"] is None
    assert assistant["tool_calls"] == [
        {
            "id": "t0-0",
            "type": "function",
            "function": {"name": "get_transaction", "arguments": '{"transaction_id": "pay_1"}'},
        }
    ]
    assert tool == {
        "role": "tool",
        "content": '{"status": "ok"}',
        "tool_call_id": "t0-0",
        "name": "get_transaction",
    }


async def test_no_tools_key_without_tools_and_model_override() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(req: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(req.content))
        return httpx.Response(200, json=completion({"content": "hi"}))

    await provider(handler).complete(request(tools=(), settings=ModelSettings(model="gpt-4o")))
    assert "tools" not in bodies[0] and bodies[0]["model"] == "gpt-4o"


async def test_native_tool_calls_usage_and_cost() -> None:
    message = {
        "content": None,
        "tool_calls": [
            {
                "id": "x",
                "type": "function",
                "function": {"name": "get_transaction", "arguments": '{"transaction_id": "p"}'},
            },
            {
                "id": "y",
                "type": "function",
                "function": {"name": "get_transaction", "arguments": "{not json"},
            },
        ],
    }
    body = completion(message, usage={"prompt_tokens": 1000, "completion_tokens": 500})
    resp = await provider(lambda r: httpx.Response(200, json=body)).complete(request())
    assert [(c.id, c.arguments) for c in resp.tool_calls] == [
        ("call_0", {"transaction_id": "p"}),
        ("call_1", {}),
    ]
    assert resp.tool_calls[1].arguments_error and resp.parse_error is None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (1000, 500)
    assert resp.cost_usd == pytest.approx((1000 * 0.15 + 500 * 0.60) / 1e6)
    assert resp.model == "gpt-4o-mini" and resp.finish_reason == "stop" and resp.latency_ms >= 0


async def test_json_in_text_fallback_and_estimated_usage() -> None:
    text = 'Looking.\n```json\n{"name": "get_transaction", "arguments": {"transaction_id": "pay_1"}}\n```'
    resp = await provider(lambda r: httpx.Response(200, json=completion({"content": text}))).complete(
        request()
    )
    assert resp.content == "Looking."
    assert [c.name for c in resp.tool_calls] == ["get_transaction"]
    assert resp.usage.prompt_tokens > 0 and resp.usage.completion_tokens > 0  # estimated: no usage sent
    again = await provider(lambda r: httpx.Response(200, json=completion({"content": text}))).complete(
        request()
    )
    assert again.usage == resp.usage


async def test_unparseable_text_call_sets_parse_error() -> None:
    body = completion({"content": '<tool_call>{"name": "get_transaction", </tool_call>'})
    resp = await provider(lambda r: httpx.Response(200, json=body)).complete(request())
    assert resp.tool_calls == () and resp.parse_error


async def test_body_without_choices_is_a_parse_error_not_an_exception() -> None:
    resp = await provider(lambda r: httpx.Response(200, json={"model": "m", "oops": True})).complete(
        request()
    )
    assert resp.parse_error == "provider response had no choices"


async def test_non_json_200_is_transient() -> None:
    with pytest.raises(TransientError, match="non-JSON"):
        await provider(lambda r: httpx.Response(200, text="<html>bad gateway</html>")).complete(request())


async def test_finish_reason_content_filter() -> None:
    body = {"choices": [{"message": {"content": ""}, "finish_reason": "content_filter"}]}
    with pytest.raises(ContentFilteredError):
        await provider(lambda r: httpx.Response(200, json=body)).complete(request())


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        (408, "timeout", TransientError),
        (409, "conflict", TransientError),
        (500, "boom", TransientError),
        (503, "overloaded", TransientError),
        (401, f"Incorrect API key provided: {KEY}", AuthError),
        (403, "forbidden", AuthError),
        (400, "This model's maximum context length is 8192 tokens", ContextOverflowError),
        (400, '{"error": {"code": "context_length_exceeded"}}', ContextOverflowError),
        (
            400,
            '{"error": {"message": "request (830 tokens) exceeds the available context size (512 tokens)"}}',
            ContextOverflowError,
        ),
        (400, '{"error": {"code": "content_policy_violation"}}', ContentFilteredError),
        (400, "bad request", InvalidInputError),
        (404, "model not found", InvalidInputError),
        (422, "unprocessable", InvalidInputError),
    ],
)
async def test_status_classification(status: int, text: str, expected: type[Exception]) -> None:
    with pytest.raises(expected) as info:
        await provider(lambda r: httpx.Response(status, text=text)).complete(request())
    assert type(info.value) is expected
    assert KEY not in str(info.value) and KEY not in json.dumps(info.value.details)  # type: ignore[attr-defined]


async def test_secret_is_scrubbed_from_echoed_error_text() -> None:
    with pytest.raises(InvalidInputError) as info:
        await provider(lambda r: httpx.Response(400, text=f"bad header Bearer {KEY}")).complete(request())
    assert KEY not in str(info.value) and "***" in str(info.value)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
        ({"Retry-After": "600"}, 60.0),
    ],
)
async def test_rate_limit_honours_retry_after(headers: dict[str, str], seconds: float) -> None:
    with pytest.raises(RateLimitedError) as info:
        await provider(lambda r: httpx.Response(429, headers=headers, text="slow down")).complete(request())
    delay = info.value.next_retry_delay()
    assert delay is not None and delay.total_seconds() == pytest.approx(seconds)
    assert info.value.to_application_error().next_retry_delay == delay


def test_retry_after_http_date() -> None:
    now = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
    headers = httpx.Headers({"Retry-After": format_datetime(now + timedelta(seconds=30), usegmt=True)})
    assert retry_after(headers, now) == timedelta(seconds=30)
    assert retry_after(httpx.Headers({"Retry-After": "soon"}), now) is None
    assert retry_after(httpx.Headers({}), now) is None


async def test_connect_error_names_base_url_not_key() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=req)

    with pytest.raises(TransientError) as info:
        await provider(handler).complete(request())
    assert "unreachable" in str(info.value) and BASE in str(info.value) and KEY not in str(info.value)


async def test_read_timeout_is_transient() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=req)

    with pytest.raises(TransientError, match="timed out"):
        await provider(handler).complete(request())


async def test_real_refused_connection_is_transient() -> None:
    p = OpenAIProvider("http://127.0.0.1:9/v1", default_model="gpt-4o-mini", api_key=KEY)
    with pytest.raises(TransientError, match=r"unreachable at http://127\.0\.0\.1:9/v1"):
        await p.complete(request())
    await p.aclose()


def test_repr_hides_key() -> None:
    assert KEY not in repr(provider(lambda r: httpx.Response(200)))
