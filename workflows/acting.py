"""Acting on one routed tool call: loop check, precheck, approval, the activity, and its typed record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from core.agent import Agent
    from core.errors import InvalidInputError
    from core.toolspec import ToolSpec
    from workflows import observations
    from workflows.activity_options import failure_of
    from workflows.human import HumanLoop
    from workflows.limits import Limits
    from workflows.routing import RoutedCall
    from workflows.tool_calls import execute, short


class ToolRunner:
    def __init__(self, agent: Agent[Any], human: HumanLoop, in_flight: dict[str, str], limits: Limits):
        self._agent = agent
        self._human = human
        self._in_flight = in_flight
        self._limits = limits

    async def run(self, turn: int, routed: RoutedCall) -> m.ToolCallRecord:
        call, spec, args = routed.call, routed.spec, routed.args
        if spec is None or args is None:
            err = routed.error or InvalidInputError(f"call {call.id} could not be routed")
            observation = observations.failure(err.type_name, err.message, err.details)
            return record(turn, routed, m.ToolOutcome.REJECTED, observation, err.type_name)
        # A call a human already denied is answered by the gate ("denied earlier"), not as a loop.
        if self._human.gate.blocked_reason(spec.name, args) is None:
            looping = self._limits.before_call(turn, spec.name, args)
            if looping is not None:
                return record(turn, routed, m.ToolOutcome.REJECTED, looping, "LoopDetected")
        approver: str | None = None
        if routed.needs_approval:
            if spec.precheck is not None:
                refused = await self._precheck(turn, routed, spec, args)
                if refused is not None:
                    return refused
            decision = await self._human.approval(turn, call.id, spec.name, args)
            if decision.verdict == "denied":
                message = f"a human did not approve this call ({decision.actor}: {decision.reason})"
                observation = observations.failure("PermissionDeniedError", message)
                return record(turn, routed, m.ToolOutcome.DENIED, observation, "PermissionDeniedError")
            approver = decision.actor
        return await self._call(turn, routed, spec, args, approver)

    async def _call(
        self, turn: int, routed: RoutedCall, spec: ToolSpec, args: dict[str, Any], approver: str | None
    ) -> m.ToolCallRecord:
        call_id = routed.call.id
        self._in_flight[call_id] = f"{spec.name}({short(args)})"
        started = workflow.now()
        try:
            output = await execute(self._agent, spec, call_id, args)
        except ActivityError as err:
            error_type, message, details = failure_of(err)
            observation = observations.failure(error_type, message, details)
            return record(turn, routed, m.ToolOutcome.ERROR, observation, error_type, started, approver)
        finally:
            self._in_flight.pop(call_id, None)
        observation = observations.success(output.result, output.note, output.degraded)
        done = record(turn, routed, m.ToolOutcome.OK, observation, None, started, approver)
        return done.model_copy(update={"result": output.result})

    async def _precheck(
        self, turn: int, routed: RoutedCall, spec: ToolSpec, args: dict[str, Any]
    ) -> m.ToolCallRecord | None:
        """Run the tool's read-only rule check; a refusal becomes the observation, with no approval."""
        started = workflow.now()
        try:
            await execute(self._agent, spec, routed.call.id, args, precheck=True)
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
