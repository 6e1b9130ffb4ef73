"""Acting on one routed tool call: precheck, approval, the activity, and its typed record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from core.errors import InvalidInputError
    from core.toolspec import ToolSpec
    from workflows import observations
    from workflows.activity_options import failure_of
    from workflows.human import HumanLoop
    from workflows.routing import RoutedCall

# A change of the command sequence, kept so histories recorded before it still replay.
PRECHECK_PATCH = "precheck-before-approval"
# Tools declared `local` run as local activities (a marker instead of scheduled/started/completed).
LOCAL_TOOLS_PATCH = "local-tools-v1"


def tool_input(call_id: str, args: dict[str, Any]) -> m.ToolInput:
    workflow_id = workflow.info().workflow_id
    # workflow_id:call_id is the idempotency key: a retried or replayed call finds its first result.
    return m.ToolInput(
        workflow_id=workflow_id, call_id=call_id, idempotency_key=f"{workflow_id}:{call_id}", args=args
    )


async def execute(
    spec: ToolSpec, call_id: str, args: dict[str, Any], *, precheck: bool = False
) -> m.ToolOutput:
    name = spec.precheck_activity_name if precheck else spec.activity_name
    summary = (f"check {spec.name}" if precheck else f"{spec.name}({short(args)})")[:200]
    # The same timeout, retry policy (so the same never-retried classes) and summary either way.
    options: dict[str, Any] = {
        "result_type": m.ToolOutput,
        "start_to_close_timeout": spec.timeout,
        "retry_policy": spec.retry_policy(),
        "summary": summary,
    }
    if spec.heartbeat_timeout is not None and not spec.local:
        options["heartbeat_timeout"] = spec.heartbeat_timeout
    if spec.local and not precheck and workflow.patched(LOCAL_TOOLS_PATCH):
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
    output: m.ToolOutput = await workflow.execute_activity(name, tool_input(call_id, args), **options)
    return output


class ToolRunner:
    def __init__(self, human: HumanLoop, in_flight: dict[str, str], *, reminders: bool) -> None:
        self._human = human
        self._in_flight = in_flight
        self._reminders = reminders

    async def run(self, turn: int, routed: RoutedCall) -> m.ToolCallRecord:
        call, spec, args = routed.call, routed.spec, routed.args
        if spec is None or args is None:
            err = routed.error or InvalidInputError(f"call {call.id} could not be routed")
            observation = observations.failure(err.type_name, err.message, err.details)
            return record(turn, routed, m.ToolOutcome.REJECTED, observation, err.type_name)
        approver: str | None = None
        if routed.needs_approval:
            if spec.precheck is not None and workflow.patched(PRECHECK_PATCH):
                refused = await self._precheck(turn, routed, spec, args)
                if refused is not None:
                    return refused
            decision = await self._human.approval(turn, call.id, spec.name, args, reminders=self._reminders)
            if decision.verdict == "denied":
                message = f"a human did not approve this call ({decision.actor}: {decision.reason})"
                observation = observations.failure("PermissionDeniedError", message)
                return record(turn, routed, m.ToolOutcome.DENIED, observation, "PermissionDeniedError")
            approver = decision.actor
        self._in_flight[call.id] = f"{spec.name}({short(args)})"
        started = workflow.now()
        try:
            output = await execute(spec, call.id, args)
        except ActivityError as err:
            error_type, message, details = failure_of(err)
            observation = observations.failure(error_type, message, details)
            return record(turn, routed, m.ToolOutcome.ERROR, observation, error_type, started, approver)
        finally:
            self._in_flight.pop(call.id, None)
        observation = observations.success(output.result, output.note, output.degraded)
        return record(turn, routed, m.ToolOutcome.OK, observation, None, started, approver)

    async def _precheck(
        self, turn: int, routed: RoutedCall, spec: ToolSpec, args: dict[str, Any]
    ) -> m.ToolCallRecord | None:
        """Run the tool's read-only rule check; a refusal becomes the observation, with no approval."""
        started = workflow.now()
        try:
            await execute(spec, routed.call.id, args, precheck=True)
        except ActivityError as err:
            error_type, message, details = failure_of(err)
            observation = observations.failure(error_type, message, details)
            return record(turn, routed, m.ToolOutcome.ERROR, observation, error_type, started)
        return None


def record(
    turn: int,
    routed: RoutedCall,
    outcome: m.ToolOutcome,
    observation: str,
    error_type: str | None,
    started: datetime | None = None,
    approver: str | None = None,
) -> m.ToolCallRecord:
    latency = (workflow.now() - started).total_seconds() * 1000 if started is not None else 0.0
    return m.ToolCallRecord(
        call_id=routed.call.id,
        turn=turn,
        tool=routed.call.name,
        args=routed.args if routed.args is not None else routed.call.arguments,
        outcome=outcome,
        observation=observation,
        error_type=error_type,
        latency_ms=latency,
        approved_by=approver,
    )


def short(args: dict[str, Any], limit: int = 80) -> str:
    text = ", ".join(str(v) for v in args.values())
    return text if len(text) <= limit else text[: limit - 1] + "…"
