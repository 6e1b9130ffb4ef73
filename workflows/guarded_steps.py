"""Guardrail steps of the loop: budgets, loop detection, continue-as-new (mixin of AgentWorkflow)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # Pydantic models and the tool catalog are pure and heavy: import once, not per sandboxed run.
    from core import models as m
    from core.errors import AgentError
    from core.guardrails import ExhaustedBudget
    from workflows import carry, events, metrics, observations
    from workflows.acting import ToolRunner
    from workflows.acting import record as record_of
    from workflows.guard import Guard
    from workflows.loop_detect import LoopVerdict, canonical_args
    from workflows.outcome import Stop, partial_answer
    from workflows.routing import RoutedCall

from workflows.agent_base import AgentBase


class GuardedSteps(AgentBase):
    def _make_guard(self, request: m.AgentRequest) -> Guard:
        try:
            return Guard(request, workflow.now(), request.carry)
        except AgentError as err:  # e.g. a model without a price: refused before any spend
            raise Stop(m.RunState.FAILED, f"The run was refused: {err.message}", err.type_name) from None

    async def _continue_as_new(self, request: m.AgentRequest, guard: Guard) -> None:
        """Hand over to a fresh run with everything it needs; history per run stays bounded."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        handed = carry.build(
            messages=self._messages,
            guard=guard,
            turn=self._turn,
            turn_limit=self._turn_limit,
            calls=self._calls,
            steps=self._steps,
            audit=self._human.gate.audit,
            blocked=self._human.gate.blocked,
            usage=self._usage,
            cost_usd=self._cost,
            critiqued=self._critiqued,
            escalations=self._escalations,
            calls_at_escalation=self._calls_at_escalation,
            runs=self._runs,
            progress=self._progress,
        )
        events.emit("agent.continue_as_new", self._turn, runs=self._runs + 1)
        workflow.continue_as_new(request.model_copy(update={"carry": handed}))

    async def _run_guarded(self, turn: int, routed: RoutedCall, runner: ToolRunner) -> m.ToolCallRecord:
        """Run a call unless the loop detector says the model already has its result."""
        guard, spec, args = self._guard, routed.spec, routed.args
        # A call a human already denied is answered by the gate ("denied earlier"), not as a loop.
        denied = spec is not None and args is not None and self._human.gate.blocked_reason(spec.name, args)
        if guard is not None and spec is not None and args is not None and not denied:
            verdict = guard.loop.observe_call(spec.name, canonical_args(args), turn)
            self._note_loop(turn, spec.name, verdict)
            if verdict.stop:
                await self._loop_stop(verdict)
            if verdict.kind is not None:
                observation = observations.failure("LoopDetected", verdict.message_for_model, retryable=False)
                return record_of(turn, routed, m.ToolOutcome.REJECTED, observation, "LoopDetected")
        return await runner.run(turn, routed)

    async def _check_loops(self, records: list[m.ToolCallRecord]) -> None:
        if self._guard is None:
            return
        for record in records:
            if record.outcome not in (m.ToolOutcome.OK, m.ToolOutcome.ERROR):
                continue  # only calls that ran have a result to remember
            verdict = self._guard.loop.observe_result(record.tool, record.args, record.observation)
            self._note_loop(record.turn, record.tool, verdict)
            if verdict.stop:
                await self._loop_stop(verdict)
            if verdict.kind is not None:
                self._messages.append(m.ChatMessage(role="user", content=verdict.message_for_model))

    def _note_loop(self, turn: int, tool: str, verdict: LoopVerdict) -> None:
        if verdict.kind is not None:
            events.warn("loop.detected", turn, kind=verdict.kind, tool=tool, stop=verdict.stop)

    async def _loop_stop(self, verdict: LoopVerdict) -> None:
        """Second detection: stop, hand the case to a human via a ticket, say so plainly."""
        metrics.record_loop_detected(workflow.metric_meter(), verdict.kind or "loop")
        self._escalations += 1
        ticket = await self._open_ticket(f"loop detected ({verdict.kind}): {verdict.message_for_model[:300]}")
        answer = (
            f"I stopped because I was going in circles ({verdict.kind}); a human colleague will take over"
            f"{f' (ticket {ticket})' if ticket else ''}. {partial_answer(self._turn, self._calls)}"
        )
        raise Stop(m.RunState.LOOP_DETECTED, answer, "loop_detected")

    async def _check_tool_budget(self, count: int) -> None:
        if self._guard is not None:
            exhausted = self._guard.tool_calls(count)
            if exhausted is not None:
                await self._budget_stop(exhausted)

    async def _budget_stop(self, exhausted: ExhaustedBudget) -> None:
        """A budget is spent: stop with the partial findings, or escalate if the request says so."""
        self._budget_hit = exhausted
        metrics.record_budget_stop(workflow.metric_meter(), exhausted.which)
        events.warn("budget.exhausted", self._turn, which=exhausted.which, used=exhausted.used)
        if exhausted.escalate and self._human_loop:
            await self._escalate("budget", exhausted.message, ticket_id=None)
            self._budget_hit = None
            return
        answer = f"{exhausted.message} {partial_answer(self._turn, self._calls)}"
        raise Stop(m.RunState.BUDGET_EXHAUSTED, answer, exhausted.which)
