"""One Temporal activity per tool spec: validate at the boundary, run the handler, classify errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from temporalio import activity

from activities.tools.payload import MAX_RESULT_BYTES, fit
from activities.tools.store import Store
from core.errors import AgentError, TransientError
from core.models import ToolInput, ToolOutput
from core.toolspec import Handler, ToolContext, ToolRegistry, ToolSpec

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ToolFaults:
    """Fault injection for tests and benchmarks.

    `fail_after_side_effect[tool] = n`: attempts 1..n raise TransientError after the handler has
    completed, like a worker that wrote the refund and died before reporting it.
    """

    fail_after_side_effect: dict[str, int] = field(default_factory=dict)

    def after_handler(self, tool: str, attempt: int) -> None:
        if attempt <= self.fail_after_side_effect.get(tool, 0):
            raise TransientError(f"injected fault: {tool} attempt {attempt} lost after its side effect")


async def _invoke(
    spec: ToolSpec, handler: Handler, store: Store, tool_input: ToolInput, budget: int
) -> ToolOutput:
    # Re-validated here too: the workflow validated, but an activity must not trust its caller.
    args = spec.validate(tool_input.args)
    ctx = ToolContext(
        workflow_id=tool_input.workflow_id,
        call_id=tool_input.call_id,
        idempotency_key=tool_input.idempotency_key,
        store=store,
    )
    result = (await handler(ctx, args)).model_dump(mode="json")
    fitted, note = fit(result, budget)
    return ToolOutput(result=fitted, truncated=note is not None, note=note)


def _tool_activity(
    spec: ToolSpec, store: Store, faults: ToolFaults, budget: int, *, precheck: bool = False
) -> Callable[..., Any]:
    handler = spec.precheck if precheck and spec.precheck is not None else spec.handler
    name = spec.precheck_activity_name if precheck else spec.activity_name

    async def run_tool(tool_input: ToolInput) -> ToolOutput:
        attempt = activity.info().attempt
        bound = log.bind(
            workflow_id=tool_input.workflow_id, call_id=tool_input.call_id, tool=spec.name, attempt=attempt
        )
        bound.info("tool.start")
        started = time.perf_counter()
        outcome = "cancelled"  # stays so only if a BaseException (cancellation) interrupts us
        try:
            output = await _invoke(spec, handler, store, tool_input, budget)
            if not precheck:
                faults.after_handler(spec.name, attempt)
            outcome = "ok"
            return output
        except AgentError as err:
            outcome = err.type_name
            raise err.to_application_error() from None
        except Exception as exc:
            outcome = TransientError.__name__
            bound.error("tool.unclassified_error", error_type=type(exc).__name__, exc_info=True)
            # Unknown failures are presumed transient; the retry policy bounds the attempts.
            message = f"{spec.name} failed unexpectedly: {type(exc).__name__}: {str(exc)[:200]}"
            raise TransientError(message).to_application_error() from None
        finally:
            latency_ms = round((time.perf_counter() - started) * 1000, 2)
            bound.info("tool.end", latency_ms=latency_ms, outcome=outcome)

    run_tool.__name__ = run_tool.__qualname__ = name.replace(".", "_")
    return activity.defn(name=name)(run_tool)


def build_tool_activities(
    registry: ToolRegistry,
    store: Store,
    faults: ToolFaults | None = None,
    *,
    max_result_bytes: int = MAX_RESULT_BYTES,
) -> list[Callable[..., Any]]:
    """The activities to register on the worker: one per spec, named `tool.<name>`."""
    faults = faults or ToolFaults()
    built = [_tool_activity(spec, store, faults, max_result_bytes) for spec in registry]
    built += [
        _tool_activity(spec, store, faults, max_result_bytes, precheck=True)
        for spec in registry
        if spec.precheck is not None
    ]
    return built
