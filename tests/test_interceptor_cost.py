"""The activity interceptor builds an event's fields only when the log level keeps the event (issue 8)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from structlog.testing import CapturingLoggerFactory

from activities import interceptors
from core.models import ChatMessage, LlmRequest, ToolInput, ToolOutput


@pytest.fixture
def at_level(request: pytest.FixtureRequest) -> Iterator[CapturingLoggerFactory]:
    factory = CapturingLoggerFactory()
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(request.param),
        processors=[],  # the event dict reaches the capture as keyword arguments
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
    yield factory
    structlog.reset_defaults()


def tool_input() -> ToolInput:
    return ToolInput(workflow_id="w", call_id="t1-1", idempotency_key="w:t1-1", args={"a": 1})


def request_of() -> LlmRequest:
    return LlmRequest(
        workflow_id="w", turn=1, messages=(ChatMessage(role="user", content="hi"),), prompt_version="v"
    )


@pytest.mark.parametrize("at_level", [logging.WARNING], indirect=True)
def test_dropped_events_dump_nothing(
    at_level: CapturingLoggerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("serialised for an event the level drops")

    monkeypatch.setattr(ChatMessage, "model_dump", refuse)
    monkeypatch.setattr(ToolOutput, "model_dump_json", refuse)
    interceptors.log_request(request_of(), "scripted")
    interceptors._log_start("tool.merchant_support.get_transaction", tool_input())
    interceptors._on_success("tool.merchant_support.get_transaction", ToolOutput(result={"a": 1}), 1.0)
    assert at_level.logger.calls == []


@pytest.mark.parametrize("at_level", [logging.INFO], indirect=True)
def test_kept_events_carry_every_field(at_level: CapturingLoggerFactory) -> None:
    interceptors.log_request(request_of(), "scripted")
    interceptors._on_success("tool.merchant_support.get_transaction", ToolOutput(result={"a": 1}), 1.0)
    start, end = (call.kwargs for call in at_level.logger.calls)
    assert start["event"] == "llm.request" and start["messages"] == [{"role": "user", "content": "hi"}]
    assert start["model"] == "scripted"
    assert end["event"] == "tool.end" and end["result_bytes"] == len(
        ToolOutput(result={"a": 1}).model_dump_json()
    )
