"""The `llm.complete` activity around a provider: classified errors keep their class and retry delay,
an unclassified crash becomes a transient error without the secret, an oversized reply is refused whole."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.llm.activity import LlmActivities
from core.errors import AuthError, RateLimitedError
from core.models import LlmRequest, LlmResponse
from tests.test_openai_provider import KEY, completion, provider, request


class _Raising:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def complete(self, req: LlmRequest) -> LlmResponse:
        raise self.exc


async def test_activity_converts_classified_errors() -> None:
    env = ActivityEnvironment()
    acts = LlmActivities(_Raising(RateLimitedError("slow", retry_after=timedelta(seconds=3))))
    with pytest.raises(ApplicationError) as info:
        await env.run(acts.complete, request())
    assert info.value.type == "RateLimitedError" and not info.value.non_retryable
    assert info.value.next_retry_delay == timedelta(seconds=3)
    with pytest.raises(ApplicationError) as info:
        await env.run(LlmActivities(_Raising(AuthError("no"))).complete, request())
    assert info.value.type == "AuthError" and info.value.non_retryable


async def test_activity_turns_unclassified_crashes_into_transient() -> None:
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(LlmActivities(_Raising(KeyError(KEY))).complete, request())
    assert info.value.type == "TransientError" and not info.value.non_retryable
    assert KEY not in str(info.value)


async def test_an_oversized_reply_is_refused_whole_and_keeps_none_of_its_text() -> None:
    body = completion({"content": "é" * 40_000}, usage={"prompt_tokens": 10, "completion_tokens": 9000})
    acts = LlmActivities(provider(lambda r: httpx.Response(200, json=body)))
    resp = await ActivityEnvironment().run(acts.complete, request())
    assert resp.content == "" and resp.tool_calls == () and "é" not in resp.model_dump_json()
    assert resp.rejected is not None and "40000 characters" in resp.rejected
    assert resp.usage.completion_tokens == 9000  # what it cost is still counted


async def test_oversized_tool_arguments_are_refused_and_never_carried() -> None:
    huge = json.dumps({"transaction_id": "pay_" + "A" * 100_000})
    native = [{"id": "c1", "type": "function", "function": {"name": "get_transaction", "arguments": huge}}]
    body = completion({"content": None, "tool_calls": native})
    acts = LlmActivities(provider(lambda r: httpx.Response(200, json=body)))
    resp = await ActivityEnvironment().run(acts.complete, request())
    assert resp.tool_calls == () and resp.rejected is not None and "get_transaction" in resp.rejected
    assert len(resp.model_dump_json()) < 1_000  # before: a 256 KB LlmResponse in history
