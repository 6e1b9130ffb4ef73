"""Scheduling one tool's activity (`tool.<agent>.<tool>`), local or regular, with its own options."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from core.agent import Agent
    from core.toolspec import ToolSpec


def tool_input(call_id: str, args: dict[str, Any]) -> m.ToolInput:
    workflow_id = workflow.info().workflow_id
    # workflow_id:call_id is the idempotency key: a retried or replayed call finds its first result.
    return m.ToolInput(
        workflow_id=workflow_id, call_id=call_id, idempotency_key=f"{workflow_id}:{call_id}", args=args
    )


async def execute(
    agent: Agent[Any], spec: ToolSpec, call_id: str, args: dict[str, Any], *, precheck: bool = False
) -> m.ToolOutput:
    name = agent.activity_name(spec, precheck)
    summary = (f"check {spec.name}" if precheck else f"{spec.name}({short(args)})")[:200]
    # The same timeout, retry policy (so the same never-retried classes) and summary either way.
    options: dict[str, Any] = {
        "result_type": m.ToolOutput,
        "start_to_close_timeout": spec.timeout,
        "retry_policy": spec.retry_policy(),
        "summary": summary,
    }
    if spec.local and not precheck:
        try:
            local: m.ToolOutput = await workflow.execute_local_activity(
                name, tool_input(call_id, args), **options
            )
        except ApplicationError as err:
            # A failed local activity arrives unwrapped (only its timeout comes as ActivityError):
            # wrap it so callers read every tool failure the same way (failure_of).
            raise ActivityError(
                err.message,
                scheduled_event_id=0,
                started_event_id=0,
                identity="",
                activity_type=name,
                activity_id="",
                retry_state=None,
            ) from err
        return local
    if spec.heartbeat_timeout is not None:
        options["heartbeat_timeout"] = spec.heartbeat_timeout
    output: m.ToolOutput = await workflow.execute_activity(name, tool_input(call_id, args), **options)
    return output


def short(args: dict[str, Any], limit: int = 80) -> str:
    text = ", ".join(str(v) for v in args.values())
    return text if len(text) <= limit else text[: limit - 1] + "…"
