"""Provider and tool failures end runs with typed results; the API key never reaches history."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import ScriptBook, ScriptedReply, ScriptedToolCall, ScriptedTransport
from core.models import RunState, ToolOutcome
from tests.conftest import Harness
from tests.history_facts import attempts_by_activity, scheduled_activities
from workflows.activity_options import LLM_RETRY

SECRET = "sk-test-SECRET-4f9d2c"
BASE_URL = "http://scripted.invalid/v1"
LOOKUP = ScriptedReply(
    content="Looking it up.",
    tool_calls=[ScriptedToolCall(name="get_transaction", arguments={"transaction_id": "pay_ABC123"})],
)


class RecordingTransport(ScriptedTransport):
    """ScriptedTransport that also keeps each request's headers (the parent keeps only bodies)."""

    def __init__(self, book: ScriptBook) -> None:
        super().__init__(book)
        self.headers: list[httpx.Headers] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(request.headers)
        return await super().handle_async_request(request)


def provider(transport: httpx.AsyncBaseTransport) -> OpenAIProvider:
    return OpenAIProvider(base_url=BASE_URL, api_key=SECRET, default_model="scripted", transport=transport)


def scripted(task: str, script: list[ScriptedReply]) -> RecordingTransport:
    return RecordingTransport(ScriptBook({task: script}))


def mock(handler: Any) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A MockTransport whose handler sees every request; the list records them."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        result: httpx.Response = handler(request)
        return result

    return httpx.MockTransport(record), seen


def retry_waits(history: WorkflowHistory, activity_type: str) -> list[tuple[int, float]]:
    """(final attempt, seconds from scheduling to that attempt's start) per activity of this type.

    Temporal writes one started event per activity, for its last attempt, so on the time-skipping
    server the gap is the sum of the (virtual) retry delays.
    """
    scheduled = {
        e.event_id: (e.activity_task_scheduled_event_attributes.activity_type.name, e.event_time.ToDatetime())
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    waits = []
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs = e.activity_task_started_event_attributes
            name, at = scheduled[attrs.scheduled_event_id]
            if name == activity_type:
                waits.append((attrs.attempt, (e.event_time.ToDatetime() - at).total_seconds()))
    return waits


def policy_backoff_s() -> float:
    """Total delay LLM_RETRY puts between its first and last attempt."""
    assert LLM_RETRY.maximum_attempts and LLM_RETRY.maximum_interval
    delays = (
        LLM_RETRY.initial_interval.total_seconds() * LLM_RETRY.backoff_coefficient**i
        for i in range(LLM_RETRY.maximum_attempts - 1)
    )
    return sum(min(d, LLM_RETRY.maximum_interval.total_seconds()) for d in delays)


async def test_api_key_is_sent_on_the_wire_but_never_enters_history(harness: Harness) -> None:
    task = "secret check pay_ABC123"
    transport = scripted(task, [LOOKUP, ScriptedReply(content="It is a 49.99 USD charge.")])
    result, history = await harness.run(task, [], provider=provider(transport))

    assert result.status == RunState.COMPLETED and result.answer == "It is a 49.99 USD charge."
    assert scheduled_activities(history) == [
        "llm.complete",
        "tool.merchant_support.get_transaction",
        "llm.complete",
    ]
    # The key really was in use: both model calls carried it.
    assert [h.get("authorization") for h in transport.headers] == [f"Bearer {SECRET}"] * 2
    exported = history.to_json()
    assert SECRET not in exported
    assert BASE_URL not in exported and "scripted.invalid" not in exported
    assert "Bearer" not in exported


async def test_rejected_key_fails_once_with_auth_error_and_no_key_in_history(harness: Harness) -> None:
    transport, seen = mock(
        lambda request: httpx.Response(
            401,
            json={"error": {"message": f"Incorrect API key provided: {SECRET}", "code": "invalid_api_key"}},
        )
    )
    result, history = await harness.run("auth check", [], provider=provider(transport))

    assert result.status == RunState.FAILED
    assert result.stop_reason == "AuthError"
    assert attempts_by_activity(history)["llm.complete"] == 1  # non-retryable: never retried
    assert len(seen) == 1 and seen[0].headers["authorization"] == f"Bearer {SECRET}"
    assert "AuthError" in result.answer and "credentials rejected" in result.answer
    assert "LLM_API_KEY" in result.answer
    assert result.steps[-1].error is not None and result.steps[-1].error.startswith("AuthError")
    assert SECRET not in history.to_json()
    assert SECRET not in result.model_dump_json()


async def test_unreachable_provider_fails_after_the_retry_budget(harness: Harness) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    transport, seen = mock(refuse)
    started = time.monotonic()
    result, history = await harness.run("unreachable check", [], provider=provider(transport))
    elapsed = time.monotonic() - started

    assert result.status == RunState.FAILED
    assert result.stop_reason == "TransientError"
    assert attempts_by_activity(history)["llm.complete"] == LLM_RETRY.maximum_attempts
    assert len(seen) == LLM_RETRY.maximum_attempts
    # The provider's message: "LLM provider unreachable at <base_url> (connection failed)".
    assert f"unreachable at {BASE_URL}" in result.answer
    # The policy's full backoff (1+2+4+8 s) passed in workflow time, and was skipped in wall time.
    [(attempt, waited)] = retry_waits(history, "llm.complete")
    assert attempt == LLM_RETRY.maximum_attempts
    assert abs(waited - policy_backoff_s()) < 1.0
    assert elapsed < 10, f"backoff was not skipped: {elapsed:.1f} s"


async def test_rate_limit_with_retry_after_is_retried_then_completes(harness: Harness) -> None:
    task = "rate limited once"
    limited = ScriptedReply(content="All good.", status=429, headers={"Retry-After": "2"}, fail_first=1)
    transport = scripted(task, [limited])
    result, history = await harness.run(task, [], provider=provider(transport))

    assert result.status == RunState.COMPLETED and result.answer == "All good."
    assert attempts_by_activity(history)["llm.complete"] == 2
    # Retry-After: 2 became next_retry_delay: the retry waited 2 s, not the policy's 1 s first interval.
    [(attempt, waited)] = retry_waits(history, "llm.complete")
    assert attempt == 2
    assert 1.9 <= waited < 3.0, waited


async def test_non_json_http_body_is_transient_and_ends_typed(harness: Harness) -> None:
    # A 200 whose body is not JSON is an HTTP-level fault (a proxy or a half-started server), not bad
    # model output: the provider raises TransientError, so Temporal retries up to the policy's budget and
    # the run then ends FAILED with that class — a typed result, never a crashed workflow.
    task = "garbage body"
    transport = scripted(task, [ScriptedReply(status=200, body="not json")])
    result, history = await harness.run(task, [], provider=provider(transport))

    assert result.status == RunState.FAILED
    assert result.stop_reason == "TransientError"
    assert "non-JSON body" in result.answer
    assert attempts_by_activity(history)["llm.complete"] == LLM_RETRY.maximum_attempts
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED


async def test_non_json_body_once_recovers_on_retry(harness: Harness) -> None:
    task = "garbage body once"
    transport = scripted(
        task, [ScriptedReply(content="Recovered.", status=200, body="not json", fail_first=1)]
    )
    result, history = await harness.run(task, [], provider=provider(transport))

    assert result.status == RunState.COMPLETED and result.answer == "Recovered."
    assert attempts_by_activity(history)["llm.complete"] == 2
    [(attempt, waited)] = retry_waits(history, "llm.complete")
    assert attempt == 2 and waited < 1.9  # the policy's 1 s first interval


async def test_unknown_transaction_is_one_attempt_and_a_typed_observation(harness: Harness) -> None:
    task = "unknown payment"
    missing = ScriptedReply(
        tool_calls=[ScriptedToolCall(name="get_transaction", arguments={"transaction_id": "pay_NOPE999"})]
    )
    transport = scripted(task, [missing, ScriptedReply(content="I could not find pay_NOPE999.")])
    result, history = await harness.run(task, [], provider=provider(transport))

    assert result.status == RunState.COMPLETED and result.answer == "I could not find pay_NOPE999."
    assert attempts_by_activity(history)["tool.merchant_support.get_transaction"] == 1
    [record] = result.tool_calls
    assert (record.outcome, record.error_type) == (ToolOutcome.ERROR, "NotFoundError")
    observation = json.loads(record.observation)
    assert observation["ok"] is False
    assert observation["error_type"] == "NotFoundError" and observation["retryable"] is False
    assert "pay_NOPE999" in observation["message"]
    # The model saw the observation on its next turn.
    tool_messages = [m for m in transport.requests[-1]["messages"] if m["role"] == "tool"]
    assert [json.loads(m["content"])["error_type"] for m in tool_messages] == ["NotFoundError"]
