"""Structured events, redaction and retry decisions of real runs (metrics and spans: their own file)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from structlog.testing import CapturingLoggerFactory
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from activities.interceptors import retry_decision
from bench.tool_faults import ToolFaults
from core.errors import NON_RETRYABLE_TYPE_NAMES, NotFoundError, TransientError
from core.logging import build_processors, configure_logging, route_stdlib_logging
from core.models import ApproveSignal, RunState
from core.redaction import MASK, Redactor, redactor_from_env
from tests.conftest import Harness, scripted_provider
from tests.test_agent_workflow import REFUND, answer, call, calls, wait_for_pending
from workflows.agent import AgentWorkflow

SECRET = "sk-obs-SECRET-7a1b9c"
LOOKUP = call("get_transaction", transaction_id="pay_ABC123")
MISSING = call("get_transaction", transaction_id="pay_NOPE999")


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch) -> Iterator[CapturingLoggerFactory]:
    """The production JSON chain (redactor read from the env at configure time), captured as parsed events."""
    monkeypatch.setenv("LLM_API_KEY", SECRET)
    monkeypatch.setenv("AGENT_LOG_REDACT", "customer_note")
    factory = CapturingLoggerFactory()
    structlog.configure(
        processors=build_processors("json", redactor_from_env()),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    route_stdlib_logging()  # workflow.logger's events join the same chain, as in the worker
    yield factory
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()


def only(events: list[dict[str, Any]], name: str, has: str = "event", **match: Any) -> dict[str, Any]:
    """The one event `name` with field `has` and these values."""
    found = [
        e for e in events if e["event"] == name and has in e and all(e.get(k) == v for k, v in match.items())
    ]
    assert len(found) == 1, f"{name} {match}: {len(found)} events"
    return found[0]


# ── pure pieces ─────────────────────────────────────────────────────────────


def test_redactor_masks_named_keys_at_any_depth_and_secret_values() -> None:
    redact = Redactor(keys={"api_key", "Authorization"}, secrets=[SECRET, "x"])
    event = {
        "event": "e",
        "headers": {"authorization": "Bearer abc", "accept": "json"},
        "API-KEY": "k",
        "messages": [{"content": f"my key is {SECRET}"}, {"content": "plain x"}],
        "n": 3,
    }
    out = redact(None, "info", event)
    assert out["headers"] == {"authorization": MASK, "accept": "json"}
    assert out["API-KEY"] == MASK  # names match case- and dash-insensitively
    assert out["messages"] == [{"content": MASK}, {"content": "plain x"}]  # a 1-char "secret" is ignored
    assert out["n"] == 3


def test_malformed_log_settings_fall_back_to_console_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENT_LOG_FORMAT", "xml")
    monkeypatch.setenv("AGENT_LOG_LEVEL", "LOUD")
    try:
        configure_logging()
        processors = structlog.get_config()["processors"]
        assert isinstance(processors[-1], structlog.dev.ConsoleRenderer)
        assert any(isinstance(p, Redactor) for p in processors)
    finally:
        structlog.reset_defaults()
    err = capsys.readouterr().err
    assert "AGENT_LOG_FORMAT='xml' is not console|json; using console" in err
    assert "AGENT_LOG_LEVEL='LOUD' is not a level; using INFO" in err


def test_retry_decision_follows_the_class_and_the_policy() -> None:
    policy = RetryPolicy(maximum_attempts=3, non_retryable_error_types=NON_RETRYABLE_TYPE_NAMES)
    assert retry_decision(TransientError("t").to_application_error(), 1, policy) == (
        "retry",
        "TransientError",
    )
    assert retry_decision(TransientError("t").to_application_error(), 3, policy)[0] == "retry.exhausted"
    assert retry_decision(NotFoundError("n").to_application_error(), 1, None) == (
        "retry.skipped",
        "NotFoundError",
    )
    by_policy = ApplicationError("x", type="AuthError")  # retryable flag unset: the policy's list decides
    assert retry_decision(by_policy, 1, policy) == ("retry.skipped", "AuthError")
    assert retry_decision(ValueError("bug"), 1, None) == ("retry", "ValueError")


async def approve_first(handle: Any) -> None:
    item = (await wait_for_pending(handle)).pending[0]
    signal = ApproveSignal(call_id=item.call_id, approver="al", args_sha256=item.args_sha256)
    await handle.signal(AgentWorkflow.approve, signal)


# ── a real run's events ─────────────────────────────────────────────────────


async def test_events_of_a_run_with_retry_skip_approval_and_failure(
    harness: Harness, capture: CapturingLoggerFactory
) -> None:
    task = f"observe me; the customer pasted {SECRET} by mistake"

    script = [
        calls(LOOKUP, MISSING, content="Checking."),
        calls(REFUND),
        answer("Refunded re_ on pay_ABC124."),
    ]
    provider = scripted_provider({"observe me": script}, api_key=SECRET)
    faults = ToolFaults(fail_after_side_effect={"initiate_refund": 1})
    result, _ = await harness.run(task, script, provider=provider, faults=faults, during=approve_first)
    assert result.status == RunState.COMPLETED
    structlog.get_logger("test").info("probe", customer_note="private", api_key=SECRET)

    events = [json.loads(c.args[0]) for c in capture.logger.calls]  # each is one rendered JSON line
    wf = result.workflow_id
    request = only(events, "llm.request", "model", turn=1, workflow_id=wf)
    assert request["activity_type"] == "llm.complete" and request["attempt"] == 1 and request["run_id"]
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert request["messages"][1]["content"] == MASK  # the task held the key: the whole value is masked
    assert "get_transaction" in request["tools"] and "initiate_refund" in request["tools"]
    response = only(events, "llm.response", "content", turn=1, workflow_id=wf)
    assert response["content"] == "Checking." and response["prompt_tokens"] > 0
    assert [c["arguments"] for c in response["tool_calls"]] == [LOOKUP.arguments, MISSING.arguments]
    assert {"latency_ms", "cost_usd", "completion_tokens"} <= response.keys()

    # Once per attempt, from the interceptor (the tool's own code logs no start/end of its own).
    assert sum(e["event"] == "tool.start" and e.get("call_id") == "t1-1" for e in events) == 1
    start = only(events, "tool.start", "args", call_id="t1-1", tool="get_transaction")
    assert start["args"] == {"transaction_id": "pay_ABC123"} and start["turn"] == 1
    end = only(events, "tool.end", "result_bytes", call_id="t1-1", tool="get_transaction")
    assert end["outcome"] == "ok" and end["result_bytes"] > 0 and end["latency_ms"] >= 0
    failed = only(events, "tool.end", "error", call_id="t1-2", tool="get_transaction")
    assert failed["outcome"] == "NotFoundError"

    skipped = only(events, "retry.skipped", workflow_id=wf)
    assert (skipped["error_type"], skipped["reason"], skipped["attempt"]) == (
        "NotFoundError",
        "non_retryable class",
        1,
    )
    assert (
        skipped["activity_type"] == "tool.merchant_support.get_transaction" and skipped["call_id"] == "t1-2"
    )
    retry = only(events, "retry", workflow_id=wf)
    assert (retry["error_type"], retry["attempt"], retry["next_attempt"]) == ("TransientError", 1, 2)
    assert retry["activity_type"] == "tool.merchant_support.initiate_refund" and retry["turn"] == 2
    assert (
        only(events, "tool.end", "result_bytes", call_id="t2-1", tool="initiate_refund", attempt=2)["outcome"]
        == "ok"
    )

    # The workflow's own events: replay-safe (once each, though every task replays), with their turn.
    begin = only(events, "agent.start", workflow_id=wf)
    assert begin["turn"] == 0 and begin["run_id"] == request["run_id"] and begin["user_id"]
    asked = only(events, "approval.requested", workflow_id=wf)
    assert (asked["turn"], asked["call_id"], asked["tool"]) == (2, "t2-1", "initiate_refund")
    approved = only(events, "approval.approved", workflow_id=wf)
    assert (approved["by"], approved["call_id"], approved["turn"]) == ("al", "t2-1", 2)
    assert approved["waited_s"] >= 0 and approved["level"] == "info"
    end = only(events, "agent.end", workflow_id=wf)
    assert (end["status"], end["turns"], end["tool_calls"]) == ("completed", result.turns, 3)
    assert end["cost_usd"] == result.cost_usd and end["prompt_tokens"] == result.usage.prompt_tokens
    assert end["run_id"] == request["run_id"] and end["logger"] == "temporalio.workflow"

    probe = only(events, "probe")
    assert probe["customer_note"] == MASK and probe["api_key"] == MASK
    assert all(SECRET not in json.dumps(e) for e in events), "the key leaked into an event"
