"""Running one checked plan: independent steps in parallel, dependent ones in order.

Steps run in waves: every step whose dependencies are done runs in the next wave, together. A step
whose dependency failed or was skipped is skipped. Each step goes the way of a ReAct call
(workflows/acting.py): its arguments (references resolved) are routed and validated in code, then
loop check, precheck, approval, the tool's activity with its own retries; budgets count every step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from core.errors import InvalidInputError
    from core.plans import MissingField, Plan, PlanStep, StepState, StepView, resolve_references
    from core.progress import ProgressKind
    from workflows.acting import ToolRunner
    from workflows.config import RunConfig
    from workflows.escalation import Escalator
    from workflows.guard import Guard
    from workflows.limits import Limits
    from workflows.plan_check import dependencies
    from workflows.progress import ProgressLog
    from workflows.routing import RoutedCall, route
    from workflows.state import AgentState

_ENDED = (StepState.FAILED, StepState.SKIPPED)


@dataclass
class StepRunner:
    config: RunConfig
    state: AgentState
    guard: Guard
    limits: Limits
    escalator: Escalator
    runner: ToolRunner
    progress: ProgressLog
    calls_done: Callable[[list[m.ToolCallRecord]], None]

    @property
    def views(self) -> list[StepView]:
        """Every round's steps, in plan order (kept in the run's state for the result and `status`)."""
        return self.state.plan

    async def run(self, round_no: int, plan: Plan) -> list[StepView]:
        """Run the plan to its end; the views of its steps, each done, failed or skipped."""
        first = len(self.views)
        for step in plan.steps:
            view = StepView(round=round_no, id=step.id, tool=step.tool, depends_on=dependencies(step),
                            reason=step.reason, call_id=f"p{round_no}-{step.id}")  # fmt: skip
            self.views.append(view)
        mine = {v.id: first + i for i, v in enumerate(self.views[first:])}
        results: dict[str, Any] = {}
        waiting = list(plan.steps)
        while waiting:
            states = {sid: self.views[i].state for sid, i in mine.items()}
            blocked = [s for s in waiting if any(states[d] in _ENDED for d in dependencies(s))]
            ready = [
                s
                for s in waiting
                if s not in blocked and all(states[d] == StepState.DONE for d in dependencies(s))
            ]
            for step in blocked:
                self._set(mine[step.id], StepState.SKIPPED, detail="a step it depends on did not get done")
            waiting = [s for s in waiting if s not in blocked and s not in ready]
            if ready:
                await self._wave(ready, mine, results)
            elif not blocked:
                break  # cannot happen for a checked (acyclic) plan; never spin
        return self.views[first:]

    async def _wave(self, steps: list[PlanStep], index: dict[str, int], results: dict[str, Any]) -> None:
        turn = self.state.turn
        routed = [self._routed(step, self.views[index[step.id]].call_id, results) for step in steps]
        await self.limits.tool_calls(len(routed))
        calls = tuple(r.call for r in routed)
        self.state.messages.append(m.ChatMessage(role="assistant", content="", tool_calls=calls))
        for step in steps:
            self._set(index[step.id], StepState.RUNNING)
        records = list(await asyncio.gather(*(self.runner.run(turn, r) for r in routed)))
        for step, one, done in zip(steps, routed, records, strict=True):
            self.state.calls.append(done)
            declared = one.spec.truncation if one.spec is not None else None
            text = self.guard.observation(done.tool, done.observation, declared)
            self.state.messages.append(
                m.ChatMessage(role="tool", content=text, tool_call_id=done.call_id, name=done.tool)
            )
            ok = done.outcome == m.ToolOutcome.OK
            if ok:
                results[step.id] = done.result
            self._set(index[step.id], StepState.DONE if ok else StepState.FAILED, done.error_type)
        self.calls_done(records)
        await self.limits.after_results(records)
        await self.escalator.after_calls(records)

    def _routed(self, step: PlanStep, call_id: str, results: dict[str, Any]) -> RoutedCall:
        """The step as a call, its references filled in; refused in code if one names a missing field."""
        try:
            arguments = resolve_references(step.arguments, results)
        except MissingField as missing:
            call = m.ToolCall(id=call_id, name=step.tool, arguments={})
            why = f"{step.id} refers to a field its dependency's result does not have: {missing}"
            return RoutedCall(call=call, error=InvalidInputError(why, details={"field": str(missing)}))
        call = m.ToolCall(id=call_id, name=step.tool, arguments=arguments)
        return route(call, self.config.agent.registry)

    def _set(self, i: int, state: StepState, error_type: str | None = None, detail: str = "") -> None:
        view = self.views[i]
        self.views[i] = view.model_copy(update={"state": state, "error_type": error_type})
        detail = detail or error_type or ""
        label = f"{view.id} {view.tool}"
        self.progress.add(
            workflow.now(), ProgressKind.PLAN_STEP, self.state.turn, label, outcome=state.value, detail=detail
        )
