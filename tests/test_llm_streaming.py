"""OpenAIProvider with `on_text`: SSE bodies from httpx.MockTransport, folded into the same LlmResponse."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from activities.llm.openai_provider import OpenAIProvider
from core.errors import ContextOverflowError, RateLimitedError, TransientError
from core.models import ChatMessage, LlmRequest, ToolSchema

BASE = "http://llm.test/v1"
TOOL = ToolSchema(name="get_transaction", description="Look up a payment", parameters={"type": "object"})
REQUEST = LlmRequest(
    workflow_id="wf",
    turn=1,
    prompt_version="v",
    tools=(TOOL,),
    messages=(ChatMessage(role="user", content="Check pay_ABC123"),),
)


def sse(*chunks: dict[str, Any] | str, done: bool = True) -> bytes:
    events = [c if isinstance(c, str) else json.dumps(c) for c in chunks]
    return "".join(f"data: {e}\n\n" for e in [*events, *(["[DONE]"] if done else [])]).encode()


def delta(finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "choices": [{"index": 0, "delta": fields, "finish_reason": finish}]}


USAGE = {"choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 5}}


def streaming(
    body: bytes | httpx.AsyncByteStream, seen: list[dict[str, Any]] | None = None
) -> OpenAIProvider:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(json.loads(request.content))
        headers = {"content-type": "text/event-stream"}
        if isinstance(body, bytes):
            return httpx.Response(200, headers=headers, content=body)
        return httpx.Response(200, headers=headers, stream=body)

    return OpenAIProvider(BASE, default_model="gpt-4o-mini", transport=httpx.MockTransport(handler))


async def complete(provider: OpenAIProvider) -> tuple[Any, list[str]]:
    pieces: list[str] = []
    reply = await provider.complete(REQUEST, on_text=pieces.append)
    return reply, pieces


async def test_content_deltas_reach_on_text_in_order_and_the_reply_is_the_same_as_unstreamed() -> None:
    seen: list[dict[str, Any]] = []
    body = sse(
        delta(role="assistant"),
        delta(content="The pay"),
        delta(content="ment is "),
        delta("stop", content="settled."),
        USAGE,
    )
    reply, pieces = await complete(streaming(body, seen))
    assert pieces == ["The pay", "ment is ", "settled."]
    assert reply.content == "The payment is settled." and reply.tool_calls == ()
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.finish_reason) == (30, 5, "stop")
    assert seen[0]["stream"] is True and seen[0]["stream_options"] == {"include_usage": True}

    unstreamed = httpx.MockTransport(
        lambda r: httpx.Response(
            200,
            json={
                "model": "gpt-4o-mini",
                "choices": [{"message": {"content": "The payment is settled."}, "finish_reason": "stop"}],
                "usage": USAGE["usage"],
            },
        )
    )
    plain = await OpenAIProvider(BASE, default_model="gpt-4o-mini", transport=unstreamed).complete(REQUEST)
    assert reply.model_dump(exclude={"latency_ms"}) == plain.model_dump(exclude={"latency_ms"})


async def test_native_tool_call_deltas_are_joined_by_index() -> None:
    first = {
        "index": 0,
        "id": "c1",
        "type": "function",
        "function": {"name": "get_transaction", "arguments": ""},
    }
    body = sse(
        delta(tool_calls=[first]),
        delta(tool_calls=[{"index": 0, "function": {"arguments": '{"transaction_'}}]),
        delta(tool_calls=[{"index": 0, "function": {"arguments": 'id": "pay_ABC123"}'}}]),
        delta("tool_calls"),
    )
    reply, pieces = await complete(streaming(body))
    assert pieces == [] and reply.parse_error is None and reply.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [
        ("get_transaction", {"transaction_id": "pay_ABC123"})
    ]


async def test_a_tool_call_written_as_text_is_parsed_as_in_a_plain_reply() -> None:
    text = '{"name": "get_transaction", "arguments": {"transaction_id": "pay_ABC123"}}'
    body = sse(*(delta(content=text[i : i + 7]) for i in range(0, len(text), 7)), delta("stop"))
    reply, pieces = await complete(streaming(body))
    assert "".join(pieces) == text
    assert [c.arguments for c in reply.tool_calls] == [
        {"transaction_id": "pay_ABC123"}
    ] and reply.content == ""


async def test_a_chunk_that_is_not_json_is_a_parse_error_and_drops_the_calls() -> None:
    text = '{"name": "get_transaction", "arguments": {"transaction_id": "pay_ABC123"}}'
    body = sse(
        delta(content=text[:20]),
        '{"choices": [{"delta": {"content": "tion_',
        delta("stop", content=text[40:]),
    )
    reply, _ = await complete(streaming(body))
    assert reply.parse_error is not None and "not JSON" in reply.parse_error
    assert reply.tool_calls == ()


class Broken(httpx.AsyncByteStream):
    """Two chunks, then the connection drops, as when the server dies mid-reply."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield sse(delta(content="The pay"), done=False)
        yield sse(delta(content="ment"), done=False)
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


async def test_a_stream_broken_mid_way_is_transient_after_the_text_so_far() -> None:
    pieces: list[str] = []
    with pytest.raises(TransientError, match="dropped the connection"):
        await streaming(Broken()).complete(REQUEST, on_text=pieces.append)
    assert pieces == ["The pay", "ment"]


async def test_a_stream_that_just_stops_is_transient() -> None:
    with pytest.raises(TransientError, match="ended the stream"):
        await complete(streaming(sse(delta(content="The pay"), done=False)))


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        (429, "slow down", RateLimitedError),
        (503, "loading model", TransientError),
        (400, "the request exceeds the available context size", ContextOverflowError),
    ],
)
async def test_an_error_answer_is_classified_as_without_streaming(
    status: int, text: str, expected: type
) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(status, text=text))
    with pytest.raises(expected):
        await OpenAIProvider(BASE, default_model="gpt-4o-mini", transport=transport).complete(
            REQUEST, on_text=print
        )


@pytest.mark.parametrize(
    "line",
    [
        'data: {"error": {"code": 400, "message": "context size exceeded"}}',
        'error: {"code": 400, "message": "context size exceeded"}',
    ],
)
async def test_an_error_inside_the_stream_is_classified_by_its_code(line: str) -> None:
    body = sse(delta(content="The"), done=False) + f"{line}\n\n".encode()
    with pytest.raises(ContextOverflowError):
        await complete(streaming(body))


async def test_without_on_text_nothing_is_streamed() -> None:
    seen: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(
            200, json={"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}
        )

    reply = await OpenAIProvider(
        BASE, default_model="gpt-4o-mini", transport=httpx.MockTransport(answer)
    ).complete(REQUEST)
    assert reply.content == "hi" and "stream" not in seen[0]
