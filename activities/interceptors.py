"""Activity inbound interceptor: context, events and metrics for every activity attempt, in one place.

Every event logged while an activity runs (ours and the activity's own) carries workflow_id, run_id,
activity_type, attempt and, when the input has one, turn. Counters go through the SDK's metric meter,
so they reach the runtime's Prometheus endpoint with namespace, task_queue and activity_type labels.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import structlog
from pydantic import BaseModel
from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.exceptions import CancelledError as TemporalCancelledError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from activities import activity_metrics as metrics
from core.models import LlmRequest, LlmResponse, ToolInput, ToolOutput

log = structlog.get_logger("activities")

LLM_ACTIVITY = "llm.complete"
TOOL_PREFIX = "tool."
_TURN_OF_CALL = re.compile(r"^t(\d+)-")


class ActivityLoggingInterceptor(Interceptor):
    """Register on the worker: `Worker(..., interceptors=[ActivityLoggingInterceptor()])`."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityInbound(next)


class _ActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        arg = input.args[0] if input.args else None
        with structlog.contextvars.bound_contextvars(**context_of(info, arg)):
            _log_start(info.activity_type, arg)
            started = time.perf_counter()
            try:
                result = await self.next.execute_activity(input)
            except TemporalCancelledError:
                raise  # the workflow or worker cancelled it: not a failure to retry or count
            except Exception as exc:
                latency_ms = (time.perf_counter() - started) * 1000
                _on_failure(info, exc, latency_ms)
                raise
            _on_success(info.activity_type, result, (time.perf_counter() - started) * 1000)
            return result


def context_of(info: activity.Info, arg: object) -> dict[str, Any]:
    """The fields bound for the attempt's duration."""
    context: dict[str, Any] = {
        "workflow_id": info.workflow_id,
        "run_id": info.workflow_run_id,
        "activity_type": info.activity_type,
        "attempt": info.attempt,
    }
    turn = turn_of(arg)
    if turn is not None:
        context["turn"] = turn
    if isinstance(arg, ToolInput):
        context["call_id"] = arg.call_id
        context["agent"] = agent_and_tool(info.activity_type)[0]
    return context


def turn_of(arg: object) -> int | None:
    """An LlmRequest names its turn; a tool's call id is `t<turn>-<n>`."""
    if isinstance(arg, LlmRequest):
        return arg.turn
    if isinstance(arg, ToolInput):
        match = _TURN_OF_CALL.match(arg.call_id)
        return int(match.group(1)) if match else None
    return None


def tool_name(activity_type: str) -> str | None:
    """`tool.<agent>.<tool>` (or `….precheck`) → `<tool>`: events and metrics label the agent apart."""
    return agent_and_tool(activity_type)[1]


def agent_and_tool(activity_type: str) -> tuple[str | None, str | None]:
    if not activity_type.startswith(TOOL_PREFIX):
        return None, None
    agent, _, tool = activity_type.removeprefix(TOOL_PREFIX).partition(".")
    return agent, tool or None


def retry_decision(exc: BaseException, attempt: int, policy: RetryPolicy | None) -> tuple[str, str]:
    """(event, error_type): `retry`, `retry.skipped` (never retried) or `retry.exhausted` (last attempt)."""
    if isinstance(exc, ApplicationError):
        error_type = exc.type or type(exc).__name__
        non_retryable = exc.non_retryable
    else:
        error_type, non_retryable = type(exc).__name__, False
    if non_retryable or (policy is not None and error_type in (policy.non_retryable_error_types or ())):
        return "retry.skipped", error_type
    if policy is not None and 0 < policy.maximum_attempts <= attempt:
        return "retry.exhausted", error_type
    return "retry", error_type


def _log_start(activity_type: str, arg: object) -> None:
    # Fields are built only for an event the level keeps: no dump of every result just for the filter
    # to drop it. Metrics are counted either way. `llm.request` is logged by llm.complete itself, once
    # it has put back the prompt sent by reference (log_request).
    if isinstance(arg, ToolInput) and log.is_enabled_for(logging.INFO):
        log.info("tool.start", tool=tool_name(activity_type), args=arg.args)


def log_request(req: LlmRequest, model: str) -> None:
    """The prompt as the model sees it (system prompt and tools included), with the model's name."""
    if log.is_enabled_for(logging.INFO):
        log.info(
            "llm.request",
            messages=[m.model_dump(mode="json", exclude_defaults=True) for m in req.messages],
            tools=[t.name for t in req.tools],
            prompt_version=req.prompt_version,
            agent=req.agent,
            model=model,
        )


def _on_success(activity_type: str, result: object, latency_ms: float) -> None:
    _latency(latency_ms, "ok")
    if isinstance(result, LlmResponse):
        _llm_response(result, latency_ms)
    tool = tool_name(activity_type)
    # A fallback's answer (circuit open, dependency down) is a success the model is told is degraded.
    outcome = "degraded" if isinstance(result, ToolOutput) and result.degraded else "ok"
    if tool is not None and log.is_enabled_for(logging.INFO):
        size = len(result.model_dump_json()) if isinstance(result, BaseModel) else None
        truncated = result.truncated if isinstance(result, ToolOutput) else None
        log.info(
            "tool.end",
            tool=tool,
            outcome=outcome,
            latency_ms=round(latency_ms, 2),
            result_bytes=size,
            truncated=truncated,
        )
    if tool is not None:
        agent = agent_and_tool(activity_type)[0] or ""
        _count("agent_tool_calls", {"agent": agent, "tool": tool, "outcome": outcome})


def _llm_response(result: LlmResponse, latency_ms: float) -> None:
    if log.is_enabled_for(logging.INFO):
        log.info(
            "llm.response",
            content=result.content,
            tool_calls=[{"name": c.name, "arguments": c.arguments} for c in result.tool_calls],
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            latency_ms=round(result.latency_ms or latency_ms, 1),
            cost_usd=result.cost_usd,
            model=result.model,
            finish_reason=result.finish_reason,
            parse_error=result.parse_error,
        )
    usage = result.usage
    tokens = {"description": "LLM tokens by kind", "unit": "tokens"}
    metrics.record("counter", "agent_llm_tokens", usage.prompt_tokens, {"kind": "prompt"}, **tokens)
    metrics.record("counter", "agent_llm_tokens", usage.completion_tokens, {"kind": "completion"}, **tokens)
    metrics.record(
        "histogram_float",
        "agent_llm_cost_usd",
        max(result.cost_usd, 0.0),
        description="USD per LLM call (the _sum is the total)",
    )


def _on_failure(info: activity.Info, exc: Exception, latency_ms: float) -> None:
    event, error_type = retry_decision(exc, info.attempt, info.retry_policy)
    _latency(latency_ms, error_type)
    message = exc.message if isinstance(exc, ApplicationError) else str(exc)
    tool = tool_name(info.activity_type)
    if tool is not None:
        log.info(
            "tool.end", tool=tool, outcome=error_type, latency_ms=round(latency_ms, 2), error=message[:500]
        )
        agent = agent_and_tool(info.activity_type)[0] or ""
        _count("agent_tool_calls", {"agent": agent, "tool": tool, "outcome": error_type})
    fields: dict[str, Any] = {"error_type": error_type, "error": message[:500]}
    if event == "retry.skipped":
        log.warning(event, reason="non_retryable class", **fields)
        _count("agent_retries_skipped", {"error_type": error_type})
        return
    policy = info.retry_policy
    fields["max_attempts"] = policy.maximum_attempts if policy is not None else None
    if event == "retry.exhausted":
        log.error(event, **fields)
        _count("agent_retries_exhausted", {"error_type": error_type})
        return
    delay = exc.next_retry_delay if isinstance(exc, ApplicationError) else None
    log.warning(event, next_attempt=info.attempt + 1, next_retry_delay_s=_seconds(delay), **fields)
    _count("agent_retries", {"error_type": error_type})


def _seconds(delay: Any) -> float | None:
    return delay.total_seconds() if delay is not None else None


def _count(name: str, labels: dict[str, str]) -> None:
    metrics.record("counter", name, 1, labels)


def _latency(latency_ms: float, outcome: str) -> None:
    metrics.record(
        "histogram",
        "agent_activity_latency_ms",
        max(round(latency_ms), 0),
        {"outcome": outcome},
        description="activity attempt latency",
        unit="ms",
    )
