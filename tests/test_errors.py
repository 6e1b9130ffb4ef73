"""Every class of the taxonomy is raised by a real code path and leaves with the right retryability."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

import core.errors
from activities.breaker import BreakerBoard
from activities.llm.activity import MAX_TOOL_CALLS, LlmActivities
from activities.tools.activities import build_tool_activities
from agents.merchant_support import Store
from agents.merchant_support.tools import REGISTRY
from bench.tool_faults import ToolFaults
from core.errors import (
    ERRORS_BY_NAME,
    NON_RETRYABLE_TYPE_NAMES,
    AgentError,
    BudgetExceededError,
    NonRetryableError,
    RetryableError,
)
from core.models import ToolCall, ToolInput
from core.toolspec import ToolRegistry
from tests.conftest import demo_with
from tests.test_openai_provider import completion, provider, request
from tests.test_resilience import huge_search, with_handler
from workflows.activity_options import LLM_RETRY
from workflows.routing import route

# docs/architecture.md, written out by hand so the test does not grade the code against itself.
RETRYABLE = {"TransientError", "RateLimitedError", "DependencyDownError"}


async def llm_failure(status: int, body: str = "", headers: dict[str, str] | None = None) -> ApplicationError:
    acts = LlmActivities(provider(lambda r: httpx.Response(status, text=body, headers=headers)))
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(acts.complete, request())
    return info.value


async def tool_failure(
    activities: list[Callable[..., Any]], name: str, args: dict[str, Any], attempt: int = 1
) -> ApplicationError:
    fn = next(f for f in activities if f.__name__ == name.replace(".", "_"))
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    tool_input = ToolInput(workflow_id="wf-e", call_id="t1-1", idempotency_key="wf-e:t1-1", args=args)
    with pytest.raises(ApplicationError) as info:
        await env.run(fn, tool_input)
    return info.value


def tools(store: Store, registry: ToolRegistry = REGISTRY, **options: Any) -> list[Callable[..., Any]]:
    return build_tool_activities(demo_with(registry), store, options.pop("faults", None), **options)


async def _circuit_open(store: Store) -> ApplicationError:
    acts = tools(
        store,
        faults=ToolFaults(down={"get_transaction"}),
        breakers=BreakerBoard.from_specs(REGISTRY, env="get_transaction=1/30/1"),
    )
    first = await tool_failure(
        acts, "tool.merchant_support.get_transaction", {"transaction_id": "pay_ABC123"}
    )
    assert first.type == "DependencyDownError"  # the failure that opened the circuit
    return await tool_failure(acts, "tool.merchant_support.get_transaction", {"transaction_id": "pay_ABC123"})


async def _payload_too_large(store: Store) -> ApplicationError:
    # A budget above the hard limit (a misconfiguration) lets 3.6 MB through truncation: the guard refuses.
    acts = tools(store, with_handler("search_knowledge_base", huge_search), max_result_bytes=8_000_000)
    return await tool_failure(acts, "tool.merchant_support.search_knowledge_base", {"query": "anything"})


async def _direct(store: Store) -> ApplicationError:
    # Nothing in the worker raises it yet: budgets are enforced in the workflow.
    return BudgetExceededError("USD budget of 0.50 spent").to_application_error()


async def _tool_not_found(store: Store) -> ApplicationError:
    routed = route(ToolCall(id="t1-1", name="get_transactoin"), REGISTRY)
    assert routed.error is not None
    return routed.error.to_application_error()


CASES: dict[str, Callable[[Store], Awaitable[ApplicationError]]] = {
    "TransientError": lambda store: llm_failure(503, "overloaded"),
    "RateLimitedError": lambda store: llm_failure(429, headers={"Retry-After": "3"}),
    "DependencyDownError": lambda store: tool_failure(
        tools(store, faults=ToolFaults(down={"get_transaction"})),
        "tool.merchant_support.get_transaction",
        {"transaction_id": "pay_ABC123"},
    ),
    "InvalidInputError": lambda store: tool_failure(
        tools(store),
        "tool.merchant_support.get_transaction",
        {"transaction_id": "12; DROP TABLE transactions"},
    ),
    "ToolNotFoundError": _tool_not_found,
    "NotFoundError": lambda store: tool_failure(
        tools(store), "tool.merchant_support.get_transaction", {"transaction_id": "pay_NOPE999"}
    ),
    "PermissionDeniedError": lambda store: tool_failure(
        tools(store),
        "tool.merchant_support.initiate_refund.precheck",
        {"transaction_id": "pay_GHI301", "amount": "200.00", "currency": "GBP", "reason": "duplicate"},
    ),
    "BudgetExceededError": _direct,
    "ContextOverflowError": lambda store: llm_failure(400, "This model's maximum context length is 4096"),
    "AuthError": lambda store: llm_failure(401, "bad key"),
    "ContentFilteredError": lambda store: llm_failure(400, "rejected by the content_policy"),
    "CircuitOpenError": _circuit_open,
    "PayloadTooLargeError": _payload_too_large,
}


@pytest.mark.parametrize("name", sorted(ERRORS_BY_NAME))
async def test_every_class_is_raised_with_its_retryability(name: str, store: Store) -> None:
    # A class added to the taxonomy without a case here fails with KeyError: coverage cannot rot.
    failure = await CASES[name](store)
    assert failure.type == name
    assert failure.non_retryable is (name not in RETRYABLE)
    assert ERRORS_BY_NAME[name].retryable is (name in RETRYABLE)


async def test_rate_limit_carries_retry_after_as_the_next_retry_delay() -> None:
    failure = await llm_failure(429, headers={"Retry-After": "3"})
    assert failure.next_retry_delay == timedelta(seconds=3)


def test_non_retryable_names_are_derived_from_the_classes() -> None:
    leaves = [
        cls
        for _, cls in inspect.getmembers(core.errors, inspect.isclass)
        if issubclass(cls, AgentError) and cls not in (AgentError, RetryableError, NonRetryableError)
    ]
    assert {cls.__name__ for cls in leaves} == set(ERRORS_BY_NAME)
    assert set(NON_RETRYABLE_TYPE_NAMES) == {c.__name__ for c in leaves if issubclass(c, NonRetryableError)}
    assert set(NON_RETRYABLE_TYPE_NAMES).isdisjoint(RETRYABLE)
    # Every retry policy uses that list, and the module docstring's tree names every class.
    assert LLM_RETRY.non_retryable_error_types == NON_RETRYABLE_TYPE_NAMES
    assert all(spec.retry_policy().non_retryable_error_types == NON_RETRYABLE_TYPE_NAMES for spec in REGISTRY)
    assert all(name in (core.errors.__doc__ or "") for name in ERRORS_BY_NAME)


async def test_an_unclassified_tool_crash_is_retried_once_then_final(store: Store) -> None:
    async def crash(ctx: Any, args: Any) -> Any:
        raise KeyError("oops")

    acts = tools(store, with_handler("get_transaction", crash))
    args = {"transaction_id": "pay_ABC123"}
    first = await tool_failure(acts, "tool.merchant_support.get_transaction", args, attempt=1)
    assert (first.type, first.non_retryable) == ("TransientError", False)
    second = await tool_failure(acts, "tool.merchant_support.get_transaction", args, attempt=2)
    assert (second.type, second.non_retryable) == ("TransientError", True)
    assert "unclassified failure, gave up after 2 attempts" in second.message


class _Crashing:
    async def complete(self, req: Any) -> Any:
        raise ZeroDivisionError("bug")


async def test_an_unclassified_llm_crash_is_retried_once_then_final() -> None:
    env = ActivityEnvironment()
    acts = LlmActivities(_Crashing())
    with pytest.raises(ApplicationError) as first:
        await env.run(acts.complete, request())
    assert (first.value.type, first.value.non_retryable) == ("TransientError", False)
    env.info = dataclasses.replace(env.info, attempt=2)
    with pytest.raises(ApplicationError) as second:
        await env.run(acts.complete, request())
    assert (second.value.type, second.value.non_retryable) == ("TransientError", True)
    assert "gave up after 2 attempts" in second.value.message


def answering(body: dict[str, Any], request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=body)


async def test_an_llm_reply_too_large_for_temporal_is_refused_as_data() -> None:
    """A 2 MB argument, or too many calls, is never carried: the model reads a typed refusal instead."""
    arguments = '{"a": "' + "z" * 2_000_000 + '"}'
    call = {"id": "c1", "type": "function", "function": {"name": "x", "arguments": arguments}}
    many = [{**call, "function": {"name": "x", "arguments": "{}"}}] * (MAX_TOOL_CALLS + 1)
    for calls in ([call], many):
        body = completion({"role": "assistant", "content": "", "tool_calls": calls})
        acts = LlmActivities(provider(functools.partial(answering, body)))
        reply = await ActivityEnvironment().run(acts.complete, request())
        assert reply.rejected is not None and reply.tool_calls == ()
        assert len(reply.model_dump_json()) < 1000
