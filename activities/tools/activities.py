"""One Temporal activity per tool spec: validate, pass the tool's breaker, run, classify errors.

Per attempt: validate → breaker.before_call() → handler (or the fallback, marked degraded, when the
circuit is open or the primary's last attempt failed) → record the outcome → size guard.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.breaker import TIMEOUT, UNCLASSIFIED, BreakerBoard, CircuitBreaker, Clock
from activities.heartbeat import heartbeating
from activities.ratelimit import FleetLimiter
from activities.tools.payload import MAX_RESULT_BYTES, fit
from core.agent import Agent
from core.config import ConfigError
from core.errors import (
    AgentError,
    CircuitOpenError,
    PayloadTooLargeError,
    TransientError,
)
from core.models import ToolInput, ToolOutput
from core.toolspec import Handler, ToolContext, ToolSpec

log = structlog.get_logger(__name__)

# An unclassified crash is probably a bug: one retry covers a blip, more would only repeat the bug.
UNCLASSIFIED_MAX_ATTEMPTS = 2
# Temporal rejects payloads over 2 MB; truncation keeps results far below, this is the last line.
MAX_PAYLOAD_BYTES = 1_500_000
OPEN_NOTE = "primary unavailable (circuit open): served from fallback"


class ToolHooks(Protocol):
    """The seam for fault injection (bench/tool_faults.py): around each attempt of each tool."""

    def reach(self, tool: str) -> None:
        """The attempt reaches the tool's dependency; raise to fail it there."""

    def after_handler(self, tool: str, attempt: int) -> None:
        """The handler completed (its side effect is done); raise to lose the attempt's report."""


class NoHooks:
    def reach(self, tool: str) -> None:
        return None

    def after_handler(self, tool: str, attempt: int) -> None:
        return None


@dataclass(frozen=True)
class _Tool:
    """Everything one tool activity (or its precheck) needs to run an attempt."""

    spec: ToolSpec
    name: str  # the activity's name: tool.<agent>.<tool>
    handler: Handler
    fallback: Handler | None
    deps: Any
    hooks: ToolHooks
    budget: int
    breaker: CircuitBreaker
    precheck: bool
    limiter: FleetLimiter | None = None  # the fleet's rate limit of this tool, when it has one

    async def attempt(self, tool_input: ToolInput, attempt: int, bound: Any) -> ToolOutput:
        """One attempt; every failure leaves as an ApplicationError of the taxonomy."""
        try:
            # Re-validated here too: the workflow validated, but an activity must not trust its caller.
            args = self.spec.validate(tool_input.args)
            return _checked(await self._guarded(tool_input, args, attempt, bound))
        except AgentError as err:
            raise err.to_application_error() from None

    async def _guarded(self, tool_input: ToolInput, args: Any, attempt: int, bound: Any) -> ToolOutput:
        try:
            self.breaker.before_call()
        except CircuitOpenError:
            if self.fallback is None:
                raise
            bound.warning("tool.fallback", reason="circuit_open")
            return await self._serve(self.fallback, tool_input, args, OPEN_NOTE)
        try:
            output = await self._primary(tool_input, args, attempt)
        except AgentError as err:
            self.breaker.record_failure(err.type_name)
            final = attempt >= self.spec.max_attempts
            return await self._fallback_or_raise(err, final, tool_input, args, bound)
        except Exception as exc:
            self.breaker.record_failure(UNCLASSIFIED)
            crash = self._unclassified(exc, bound)
            final = attempt >= min(UNCLASSIFIED_MAX_ATTEMPTS, self.spec.max_attempts)
            try:
                return await self._fallback_or_raise(crash, final, tool_input, args, bound)
            except TransientError:
                if final:
                    raise _gave_up(crash, attempt) from None
                raise
        except BaseException:
            self._interrupted()
            raise
        self.breaker.record_success()
        return output

    async def _primary(self, tool_input: ToolInput, args: Any, attempt: int) -> ToolOutput:
        if self.limiter is not None and not self.precheck:
            holder = f"{tool_input.workflow_id}:{tool_input.call_id}"
            await self.limiter.lease(tool_limit_key(self.name), holder, 0, tool_input.workflow_id)
        self.hooks.reach(self.spec.name)
        output = await self._serve(self.handler, tool_input, args)
        if not self.precheck:
            self.hooks.after_handler(self.spec.name, attempt)
        return output

    async def _serve(
        self, handler: Handler, tool_input: ToolInput, args: Any, degraded: str | None = None
    ) -> ToolOutput:
        ctx = ToolContext(
            workflow_id=tool_input.workflow_id,
            call_id=tool_input.call_id,
            idempotency_key=tool_input.idempotency_key,
            deps=self.deps,
            user_id=tool_input.user_id,
        )
        call = handler(ctx, args)
        model = await (heartbeating(call) if self.spec.heartbeat_timeout is not None else call)
        result = model.model_dump(mode="json")
        fitted, cut = fit(result, self.budget)
        note = "; ".join(n for n in (degraded, cut) if n) or None
        return ToolOutput(result=fitted, truncated=cut is not None, degraded=degraded is not None, note=note)

    async def _fallback_or_raise(
        self, err: AgentError, final: bool, tool_input: ToolInput, args: Any, bound: Any
    ) -> ToolOutput:
        """Serve the fallback when the primary's last allowed attempt failed retryably, else raise."""
        if not (err.retryable and final and self.fallback is not None):
            raise err
        bound.warning("tool.fallback", reason=err.type_name)
        note = f"primary unavailable ({err.type_name}): served from fallback"
        try:
            return await self._serve(self.fallback, tool_input, args, note)
        except Exception as exc:
            # A broken fallback must not hide why the primary failed: report the primary's error.
            bound.error("tool.fallback_failed", error_type=type(exc).__name__, error=str(exc)[:200])
            raise err from None

    def _unclassified(self, exc: Exception, bound: Any) -> TransientError:
        bound.error(
            "tool.unclassified_error",
            classification=UNCLASSIFIED,
            error_type=type(exc).__name__,
            exc_info=True,
        )
        message = f"{self.spec.name} failed unexpectedly: {type(exc).__name__}: {str(exc)[:200]}"
        return TransientError(message, details={"classification": UNCLASSIFIED})

    def _interrupted(self) -> None:
        """Cancelled mid-call: a timeout implicates the dependency, other cancellations do not."""
        details = activity.cancellation_details()
        if details is not None and details.timed_out:
            self.breaker.record_failure(TIMEOUT)
        else:
            self.breaker.release()


def tool_limit_key(activity_name: str) -> str:
    """`tool.<agent>.<tool>` → `tool:<agent>.<tool>`, the key of its fleet-wide rate limit."""
    return "tool:" + activity_name.removeprefix("tool.")


def _gave_up(err: TransientError, attempt: int) -> ApplicationError:
    """Still a TransientError to the model, but final, so a deterministic bug cannot loop."""
    return ApplicationError(
        f"{err.message} (unclassified failure, gave up after {attempt} attempts)",
        err.details,
        type=TransientError.__name__,
        non_retryable=True,
    )


def _checked(output: ToolOutput) -> ToolOutput:
    size = len(output.model_dump_json().encode())
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError(
            f"tool output of {size} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte payload limit",
            details={"bytes": size, "limit": MAX_PAYLOAD_BYTES},
        )
    return output


def _tool_activity(tool: _Tool) -> Callable[..., Any]:
    spec, name = tool.spec, tool.name

    async def run_tool(tool_input: ToolInput) -> ToolOutput:
        attempt = activity.info().attempt
        bound = log.bind(
            workflow_id=tool_input.workflow_id, call_id=tool_input.call_id, tool=spec.name, attempt=attempt
        )
        # tool.start / tool.end come from the activity interceptor, once per attempt, with the args.
        return await tool.attempt(tool_input, attempt, bound)

    run_tool.__name__ = run_tool.__qualname__ = name.replace(".", "_")
    return activity.defn(name=name)(run_tool)


def build_tool_activities(
    agent: Agent[Any],
    deps: Any,
    hooks: ToolHooks | None = None,
    *,
    max_result_bytes: int = MAX_RESULT_BYTES,
    breakers: BreakerBoard | None = None,
    clock: Clock = time.monotonic,
    limiter: FleetLimiter | None = None,
) -> list[Callable[..., Any]]:
    """The activities of one agent's tools: `tool.<agent>.<tool>`, then `….precheck` for those with one.

    Without `breakers`, a board is built from the specs and AGENT_BREAKERS; nonsense breaker settings
    raise ConfigError here, at worker start.
    """
    hooks = hooks or NoHooks()
    registry = agent.registry
    board = breakers if breakers is not None else BreakerBoard.from_specs(registry, clock=clock)
    missing = [spec.name for spec in registry if spec.name not in board]
    if missing:
        raise ConfigError(f"no circuit breaker configured for tools {missing}")

    def tool(spec: ToolSpec, precheck: bool) -> _Tool:
        handler = spec.precheck if precheck and spec.precheck is not None else spec.handler
        fallback = None if precheck else spec.fallback
        name = agent.activity_name(spec, precheck)
        breaker = board.get(spec.name)
        limited = limiter if limiter is not None and limiter.limit_of(tool_limit_key(name)) else None
        return _Tool(spec, name, handler, fallback, deps, hooks, max_result_bytes, breaker, precheck, limited)

    built = [_tool_activity(tool(spec, False)) for spec in registry]
    built += [_tool_activity(tool(spec, True)) for spec in registry if spec.precheck is not None]
    return built
