"""The loop's limits in action: loop detection around every call, budgets that stop or escalate.

The decisions are pure (workflows/budgets.py, loop_detect.py) and the Guard holds their state; this
collaborator applies them to the run: it answers a looping call with its earlier result, and ends
the run (a ticket for a human) on the second detection or when a budget is spent.
"""

from __future__ import annotations

from typing import Any, NoReturn

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from core.guardrails import ExhaustedBudget
    from core.triggers import EscalationTrigger
    from workflows import events, metrics, observations
    from workflows.escalation import Escalator
    from workflows.guard import Guard
    from workflows.loop_detect import LoopVerdict, canonical_args
    from workflows.outcome import Stop, partial_answer
    from workflows.state import AgentState


class Limits:
    def __init__(self, guard: Guard, state: AgentState, escalator: Escalator) -> None:
        self._guard = guard
        self._state = state
        self._escalator = escalator
        self._stop: LoopVerdict | None = None  # a loop found before a call: the turn ends, then the run

    def before_call(self, turn: int, tool: str, args: dict[str, Any]) -> str | None:
        """None to run the call; else the observation that answers it instead (a loop warning). On a
        second detection the call is recorded as refused and the run stops once the turn is done."""
        verdict = self._guard.loop.observe_call(tool, canonical_args(args), turn)
        self._note(turn, tool, verdict)
        if verdict.stop and self._stop is None:
            self._stop = verdict
        if verdict.kind is None:
            return None
        return observations.failure("LoopDetected", verdict.message_for_model, retryable=False)

    async def after_results(self, records: list[m.ToolCallRecord]) -> None:
        """Remember each result; a call that ran again and returned the same is a loop too."""
        if self._stop is not None:
            await self._loop_stop(self._stop)
        for record in records:
            if record.outcome not in (m.ToolOutcome.OK, m.ToolOutcome.ERROR):
                continue  # only calls that ran have a result to remember
            verdict = self._guard.loop.observe_result(record.tool, record.args, record.observation)
            self._note(record.turn, record.tool, verdict)
            if verdict.stop:
                await self._loop_stop(verdict)
            if verdict.kind is not None:
                self._state.messages.append(m.ChatMessage(role="user", content=verdict.message_for_model))

    async def tool_calls(self, count: int) -> None:
        exhausted = self._guard.tool_calls(count)
        if exhausted is not None:
            await self.budget_stop(exhausted)

    async def budget_stop(self, exhausted: ExhaustedBudget) -> None:
        """A budget is spent: stop with the partial findings, or escalate if the run says so."""
        self._state.budget_hit = exhausted
        metrics.record_budget_stop(workflow.metric_meter(), exhausted.which)
        events.warn("budget.exhausted", self._state.turn, which=exhausted.which, used=exhausted.used)
        if exhausted.escalate:
            await self._escalator.escalate(EscalationTrigger.BUDGET, exhausted.message, ticket_id=None)
            self._state.budget_hit = None
            return
        answer = f"{exhausted.message} {partial_answer(self._state.turn, self._state.calls)}"
        raise Stop(m.RunState.BUDGET_EXHAUSTED, answer, exhausted.which)

    def _note(self, turn: int, tool: str, verdict: LoopVerdict) -> None:
        if verdict.kind is not None:
            events.warn("loop.detected", turn, kind=verdict.kind, tool=tool, stop=verdict.stop)

    async def _loop_stop(self, verdict: LoopVerdict) -> NoReturn:
        """Second detection: stop, hand the case to a human via a ticket, say so plainly."""
        metrics.record_loop_detected(workflow.metric_meter(), verdict.kind or "loop")
        self._state.escalations += 1
        reason = f"loop detected ({verdict.kind}): {verdict.message_for_model[:300]}"
        ticket = await self._escalator.open_ticket(reason)
        found = partial_answer(self._state.turn, self._state.calls)
        answer = (
            f"I stopped because I was going in circles ({verdict.kind}); a human colleague will take over"
            f"{f' (ticket {ticket})' if ticket else ''}. {found}"
        )
        raise Stop(m.RunState.LOOP_DETECTED, answer, "loop_detected")
