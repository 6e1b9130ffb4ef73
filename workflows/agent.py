"""AgentWorkflow: the ReAct loop of DESIGN §1 as deterministic workflow code."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    # Pydantic models and the tool catalog are pure and heavy: import once, not per sandboxed run.
    from activities.tools.catalog import ESCALATE_TOOL
    from activities.toolsets import TOOLSETS
    from core import models as m
    from core.errors import AgentError, BudgetExceededError, InvalidInputError
    from core.guardrails import ExhaustedBudget
    from core.search_attributes import (
        AGENT_COST_USD,
        AGENT_PROMPT_VERSION,
        AGENT_STATUS,
        AGENT_TURNS,
        AGENT_USER,
    )
    from core.toolspec import ToolRegistry
    from workflows import carry, critic, escalation, metrics, observations, prompts
    from workflows.acting import ToolRunner, execute, short
    from workflows.acting import record as record_of
    from workflows.activity_options import LLM_RETRY, LLM_TIMEOUT, failure_of
    from workflows.guard import Guard
    from workflows.human import HumanLoop
    from workflows.loop_detect import LoopVerdict, canonical_args
    from workflows.outcome import Stop, partial_answer
    from workflows.routing import RoutedCall, renumber, route

SCHEMAS = {name: registry.schemas() for name, registry in TOOLSETS.items()}
IRREVERSIBLE = {spec.name for registry in TOOLSETS.values() for spec in registry if spec.irreversible}
# Changes of the command sequence, kept so histories recorded before them still replay.
CRITIC_PATCH = "critic-final-answer"
# Escalations wait for a human reply, more triggers escalate, approvals get a half-deadline reminder.
HUMAN_LOOP_PATCH = "human-loop-v1"
# Budgets before each call, a bounded context window, loop detection, continue-as-new.
GUARDRAILS_PATCH = "guardrails-v1"


@workflow.defn(name="AgentWorkflow")
class AgentWorkflow:
    @workflow.init
    def __init__(self, request: m.AgentRequest) -> None:
        self._request = request
        # An unknown toolset offers no tools: the run fails at once with InvalidInputError.
        self._tools = TOOLSETS.get(request.toolset, ToolRegistry([]))
        self._schemas = SCHEMAS.get(request.toolset, ())
        self._state = m.RunState.RUNNING
        self._turn = 0
        self._turn_limit = request.limits.max_turns
        self._human = HumanLoop(request.limits, self._publish)
        self._steps: list[m.TraceStep] = []
        self._calls: list[m.ToolCallRecord] = []
        self._usage = m.TokenUsage()
        self._cost = 0.0
        self._in_flight: dict[str, str] = {}
        self._published: dict[str, object] = {}
        self._critiqued = False
        self._human_loop = False
        self._escalations = 0
        self._calls_at_escalation = 0  # failures before an escalation do not trigger the next one
        self._answered_by: str | None = None
        self._messages: list[m.ChatMessage] = [
            m.ChatMessage(role="system", content=prompts.SYSTEM_PROMPT),
            m.ChatMessage(role="user", content=prompts.TASK_TEMPLATE.format(task=request.task)),
        ]
        self._guard: Guard | None = None
        self._budget_hit: ExhaustedBudget | None = None
        self._runs = 1
        self._run_first_turn = 0
        if request.carry is not None:
            self._resume_from(request.carry)

    def _resume_from(self, c: m.Carry) -> None:
        """Continue-as-new: pick up exactly where the previous run handed over."""
        self._messages, self._turn, self._turn_limit = list(c.messages), c.turn, c.turn_limit
        self._calls, self._steps = list(c.calls), list(c.steps)
        self._usage, self._cost, self._critiqued = c.usage, c.cost_usd, c.critiqued
        self._escalations, self._calls_at_escalation = c.escalations, c.calls_at_escalation
        self._human.gate.audit, self._human.gate.blocked = list(c.audit), dict(c.blocked)
        self._runs, self._run_first_turn = c.runs, c.turn

    @workflow.run
    async def run(self, request: m.AgentRequest) -> m.AgentResult:
        self._human_loop = workflow.patched(HUMAN_LOOP_PATCH)
        guarded = workflow.patched(GUARDRAILS_PATCH)
        runner = ToolRunner(self._human, self._in_flight, reminders=self._human_loop)
        self._publish()
        try:
            if request.toolset not in TOOLSETS:
                known = ", ".join(sorted(TOOLSETS))
                message = f"Unknown toolset {request.toolset!r} (known: {known})."
                raise Stop(m.RunState.FAILED, message, InvalidInputError.__name__)
            self._guard = self._make_guard(request) if guarded else None
            first_run = request.carry is None
            trigger = escalation.customer_trigger(request.task) if self._human_loop and first_run else None
            if trigger is not None:
                await self._escalate(*trigger, ticket_id=None)
            while self._turn < self._turn_limit:
                self._check_cancel()
                if self._guard is not None and carry.due(self._turn - self._run_first_turn, self._guard):
                    await self._continue_as_new(request, self._guard)
                self._turn += 1
                await self._step(self._turn, runner)
            raise Stop(m.RunState.BUDGET_EXHAUSTED, partial_answer(self._turn, self._calls), "max_turns")
        except Stop as stop:
            return self._finish(stop)

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
        )
        workflow.logger.info("agent.continue_as_new", extra={"turn": self._turn, "runs": self._runs + 1})
        workflow.continue_as_new(request.model_copy(update={"carry": handed}))

    async def _step(self, turn: int, runner: ToolRunner) -> None:
        """One ReAct turn: think, then act on the proposed calls (raises Stop to end the run)."""
        reply = await self._think(turn)
        if reply.parse_error is not None or (not reply.tool_calls and not reply.content.strip()):
            # Bad model output is data: the model is told and the turn budget bounds the retries.
            if reply.finish_reason == "length":
                nudge = prompts.CUT_OFF_REPLY
            elif reply.parse_error is not None:
                nudge = prompts.UNPARSEABLE_REPLY.format(error=reply.parse_error)
            else:
                nudge = prompts.EMPTY_REPLY
            self._messages.append(m.ChatMessage(role="assistant", content=reply.content))
            self._messages.append(m.ChatMessage(role="user", content=nudge))
            return
        if not reply.tool_calls:
            self._final_answer(turn, reply.content.strip())
            return
        calls = renumber(reply.tool_calls, turn)
        self._messages.append(m.ChatMessage(role="assistant", content=reply.content, tool_calls=calls))
        routed = [route(call, self._tools) for call in calls]
        await self._check_tool_budget(len(routed))
        # Independent calls run in parallel; observations return in call order.
        records = list(await asyncio.gather(*(self._run_guarded(turn, r, runner) for r in routed)))
        for record in records:
            self._calls.append(record)
            text = (
                self._guard.observation(record.tool, record.observation)
                if self._guard
                else record.observation
            )
            self._messages.append(
                m.ChatMessage(role="tool", content=text, tool_call_id=record.call_id, name=record.tool)
            )
        self._publish()
        await self._check_loops(records)
        await self._escalate_if_needed(records)

    async def _run_guarded(self, turn: int, routed: RoutedCall, runner: ToolRunner) -> m.ToolCallRecord:
        """Run a call unless the loop detector says the model already has its result."""
        guard, spec, args = self._guard, routed.spec, routed.args
        # A call a human already denied is answered by the gate ("denied earlier"), not as a loop.
        denied = spec is not None and args is not None and self._human.gate.blocked_reason(spec.name, args)
        if guard is not None and spec is not None and args is not None and not denied:
            verdict = guard.loop.observe_call(spec.name, canonical_args(args), turn)
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
            if verdict.stop:
                await self._loop_stop(verdict)
            if verdict.kind is not None:
                self._messages.append(m.ChatMessage(role="user", content=verdict.message_for_model))

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
        workflow.logger.warning("budget.exhausted", extra={"which": exhausted.which, "used": exhausted.used})
        if exhausted.escalate and self._human_loop:
            await self._escalate("budget", exhausted.message, ticket_id=None)
            self._budget_hit = None
            return
        answer = f"{exhausted.message} {partial_answer(self._turn, self._calls)}"
        raise Stop(m.RunState.BUDGET_EXHAUSTED, answer, exhausted.which)

    def _final_answer(self, turn: int, answer: str) -> None:
        """End the run with the model's answer, once the critic finds every action stated in it."""
        if workflow.patched(CRITIC_PATCH):
            missing = critic.unreported(answer, self._calls, IRREVERSIBLE)
            if missing and not self._critiqued and turn < self._turn_limit:
                self._critiqued = True
                self._messages.append(m.ChatMessage(role="assistant", content=answer))
                facts = prompts.CRITIC_REPLY.format(facts=" ".join(missing))
                self._messages.append(m.ChatMessage(role="user", content=facts))
                return
            if missing:
                # Still missing after one chance: state the facts rather than let the answer hide them.
                answer = f"{answer}\n\nActions taken: {' '.join(missing)}"
        denied = any(c.outcome == m.ToolOutcome.DENIED for c in self._calls)
        acted = any(c.outcome == m.ToolOutcome.OK and c.tool in IRREVERSIBLE for c in self._calls)
        raise Stop(m.RunState.DENIED if denied and not acted else m.RunState.COMPLETED, answer, None)

    async def _think(self, turn: int) -> m.LlmResponse:
        prompt = self._messages
        if self._guard is not None:
            self._messages = await self._guard.prompt(self._messages)
            prompt = self._guard.prompt_messages
            exhausted = self._guard.before_call()
            if exhausted is not None:
                await self._budget_stop(exhausted)
            granted = await self._guard.reserve(f"llm-{turn}")
            if granted is not None and not granted.granted:
                metrics.record_budget_stop(workflow.metric_meter(), "daily")
                answer = f"{granted.reason} {partial_answer(self._turn - 1, self._calls)}"
                raise Stop(m.RunState.BUDGET_EXHAUSTED, answer, BudgetExceededError.__name__)
        request = m.LlmRequest(
            workflow_id=workflow.info().workflow_id,
            turn=turn,
            messages=tuple(prompt),
            tools=self._schemas,
            settings=self._request.model,
            prompt_version=prompts.PROMPT_VERSION,
        )
        self._in_flight["llm"] = f"thinking (turn {turn})"
        started = workflow.now()
        try:
            reply = await workflow.execute_activity(
                "llm.complete",
                request,
                result_type=m.LlmResponse,
                start_to_close_timeout=LLM_TIMEOUT,
                retry_policy=LLM_RETRY,
                summary=f"turn {turn}",
            )
        except ActivityError as err:
            error_type, message, _ = failure_of(err)
            if self._guard is not None:
                await self._guard.settle(f"llm-{turn}", m.TokenUsage(), 0.0)  # release the reservation
            self._steps.append(m.TraceStep(turn=turn, thought="", error=f"{error_type}: {message}"))
            answer = f"The run stopped because the model call failed ({error_type}): {message}"
            raise Stop(m.RunState.FAILED, answer, error_type) from None
        finally:
            self._in_flight.pop("llm", None)
        self._usage += reply.usage
        if self._guard is not None:
            cost = self._guard.after_call(reply)
            await self._guard.settle(f"llm-{turn}", reply.usage, cost)
        else:
            cost = reply.cost_usd
        self._cost += cost
        self._steps.append(
            m.TraceStep(
                turn=turn,
                thought=reply.content,
                actions=tuple(f"{c.name}({short(c.arguments)})" for c in reply.tool_calls),
                tokens=reply.usage,
                cost_usd=reply.cost_usd,
                latency_ms=(workflow.now() - started).total_seconds() * 1000,
                error=reply.parse_error,
            )
        )
        return reply

    async def _escalate_if_needed(self, records: list[m.ToolCallRecord]) -> None:
        for record in records:
            if record.tool == ESCALATE_TOOL and record.outcome == m.ToolOutcome.OK:
                ticket = observations.field_of(record.observation, "ticket_id")
                await self._escalate("model", str(record.args.get("reason", "")), ticket_id=ticket or "-")
                return
        if self._human_loop:
            recent = self._calls[self._calls_at_escalation :]
            trigger = escalation.approval_timed_out(records) or escalation.repeated_failure(recent)
            if trigger is not None:
                await self._escalate(*trigger, ticket_id=None)

    async def _escalate(self, trigger: str, reason: str, ticket_id: str | None) -> None:
        """Hand the case to a human; their reply ends the run or resumes it with fresh turns."""
        if not self._human_loop:  # runs recorded before escalations waited: end here, as they did
            answer = f"I have handed this case to a human colleague (ticket {ticket_id}), who will follow up."
            raise Stop(m.RunState.ESCALATED, f"{answer} Reason: {reason}".strip(), "escalate_to_human")
        self._escalations += 1
        if ticket_id is None:
            ticket_id = await self._open_ticket(reason)
        self._state = m.RunState.ESCALATED
        reply = await self._human.escalate(trigger, reason, ticket_id)
        self._calls_at_escalation = len(self._calls)
        self._check_cancel()
        if reply is None:
            hours = self._request.limits.escalation_timeout_s / 3600
            answer = (
                f"I handed this case to a human colleague (ticket {ticket_id}), but nobody answered within "
                f"{hours:g} hours. The case stays open and a colleague will follow up."
            )
            raise Stop(m.RunState.ESCALATED_UNRESOLVED, answer, "escalation_timeout")
        if not reply.resume:
            self._answered_by = reply.responder
            raise Stop(m.RunState.COMPLETED, reply.text, "human_reply")
        guidance = prompts.HUMAN_GUIDANCE.format(responder=reply.responder, text=reply.text)
        self._messages.append(m.ChatMessage(role="user", content=guidance))
        self._turn_limit = self._turn + self._request.limits.max_turns
        if self._guard is not None:
            self._guard.grant_turns(self._request.limits.max_turns)
        self._state = m.RunState.RUNNING
        self._publish()

    async def _open_ticket(self, reason: str) -> str | None:
        """Create the escalation ticket (idempotent, like every side effect) when the toolset has one."""
        if ESCALATE_TOOL not in self._tools.names():
            return None
        spec = self._tools.get(ESCALATE_TOOL)
        args = {"reason": reason[:1000], "summary": self._request.task[:5000]}
        try:
            output = await execute(spec, f"esc-{self._escalations}", args)
        except ActivityError as err:
            workflow.logger.error("escalation.ticket_failed", extra={"error": str(failure_of(err)[:2])})
            return None
        result = output.result if isinstance(output.result, dict) else {}
        ticket = result.get("ticket_id")
        return str(ticket) if ticket is not None else None

    def _check_cancel(self) -> None:
        cancel = self._human.cancel
        if cancel is not None:
            found = partial_answer(self._turn, self._calls)
            raise Stop(
                m.RunState.CANCELLED,
                f"The run was cancelled by {cancel.by}: {cancel.reason}. {found}",
                "cancelled",
            )

    def _finish(self, stop: Stop) -> m.AgentResult:
        self._state = stop.status
        self._publish()
        workflow.logger.info("agent.end", extra={"status": stop.status.value, "turns": self._turn})
        latency_ms = (workflow.now() - workflow.info().start_time).total_seconds() * 1000
        metrics.record_run_end(workflow.metric_meter(), stop.status.value, self._turn, self._cost, latency_ms)
        return m.AgentResult(
            workflow_id=workflow.info().workflow_id,
            status=stop.status,
            answer=stop.answer,
            turns=self._turn,
            tool_calls=tuple(self._calls),
            steps=tuple(self._steps),
            usage=self._usage,
            cost_usd=round(self._cost, 6),
            prompt_version=prompts.PROMPT_VERSION,
            stop_reason=stop.reason,
            audit=tuple(self._human.gate.audit),
            escalation=self._human.escalation,
            answered_by=self._answered_by,
            budget=self._budget_hit,
            spent=self._guard.spent if self._guard is not None else None,
            loops=self._guard.loop.counters if self._guard is not None else None,
            runs=self._runs,
        )

    def _publish(self) -> None:
        """Keep the state and search attributes current; upsert only what changed."""
        if self._state in (m.RunState.RUNNING, m.RunState.AWAITING_APPROVAL):
            self._state = m.RunState.AWAITING_APPROVAL if self._human.gate.pending else m.RunState.RUNNING
        candidates: list[SearchAttributeUpdate[Any]] = [
            AGENT_STATUS.value_set(self._state.value),
            AGENT_USER.value_set(self._request.user_id),
            AGENT_TURNS.value_set(self._turn),
            AGENT_COST_USD.value_set(round(self._cost, 6)),
            AGENT_PROMPT_VERSION.value_set(prompts.PROMPT_VERSION),
        ]
        updates = [u for u in candidates if self._published.get(u.key.name) != u.value]
        if updates:
            workflow.upsert_search_attributes(updates)
            self._published.update({u.key.name: u.value for u in updates})

    # Signals take raw JSON so a malformed payload is audited and rejected, never a failed task.
    @workflow.signal(name="approve")
    def approve(self, payload: Any) -> None:
        self._human.on_approve(payload)

    @workflow.signal(name="deny")
    def deny(self, payload: Any) -> None:
        self._human.on_deny(payload)

    @workflow.signal(name="human_reply")
    def human_reply(self, payload: Any) -> None:
        self._human.on_reply(payload)

    @workflow.signal(name="cancel")
    def cancel(self, payload: Any) -> None:
        self._human.on_cancel(payload)

    @workflow.update(name="decide")
    def decide(self, request: m.DecideUpdate) -> m.DecideResult:
        now, gate = workflow.now(), self._human.gate
        if request.verdict == "approve":
            signal = m.ApproveSignal(
                call_id=request.call_id,
                approver=request.approver,
                reason=request.reason,
                args_sha256=request.args_sha256,
            )
            rejected = gate.approve(signal, now)
        else:
            rejected = gate.deny(
                m.DenySignal(
                    call_id=request.call_id, approver=request.approver, reason=request.reason or "-"
                ),
                now,
            )
        self._publish()
        return m.DecideResult(accepted=rejected is None, call_id=request.call_id, verdict=request.verdict)

    @decide.validator
    def _validate_decide(self, request: m.DecideUpdate) -> None:
        """Refuse before anything is written: the caller hears why at once."""
        item = self._human.gate.pending.get(request.call_id)
        if item is None:
            raise ValueError(f"call {request.call_id} is not pending")
        if request.args_sha256 is not None and request.args_sha256 != item.args_sha256:
            raise ValueError("args_sha256 does not match the pending call")
        if request.verdict == "deny" and not request.reason:
            raise ValueError("a denial needs a reason")

    @workflow.query(name="status")
    def status(self) -> m.RunStatus:
        return m.RunStatus(
            workflow_id=workflow.info().workflow_id,
            state=self._state,
            turn=self._turn,
            max_turns=self._turn_limit,
            pending=tuple(self._human.gate.pending.values()),
            usage=self._usage,
            cost_usd=round(self._cost, 6),
            tool_calls=len(self._calls),
            in_flight=tuple(self._in_flight.values()),
            escalation=self._human.escalation if self._state == m.RunState.ESCALATED else None,
            steps=tuple(self._steps),
            calls=tuple(self._calls),
            audit=tuple(self._human.gate.audit),
        )
