"""AgentWorkflow: the ReAct loop of DESIGN §1 as deterministic workflow code."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    # Pydantic models and the tool catalog are pure and heavy: import once, not per sandboxed run.
    from activities.toolsets import IRREVERSIBLE, TOOLSETS
    from core import models as m
    from core.errors import AgentError, BudgetExceededError, InvalidInputError
    from core.models import ProgressPage
    from core.progress import ProgressKind
    from workflows import budgets, carry, critic, escalation, events, metrics, observations, prompts
    from workflows.acting import ToolRunner, short
    from workflows.activity_options import LLM_HEARTBEAT_TIMEOUT, LLM_RETRY, LLM_TIMEOUT, failure_of
    from workflows.outcome import Stop, partial_answer
    from workflows.routing import RoutedCall, renumber, route

from workflows.agent_base import CRITIC_PATCH, GUARDRAILS_PATCH, HUMAN_LOOP_PATCH
from workflows.escalating import EscalationSteps
from workflows.guarded_steps import GuardedSteps


@workflow.defn(name="AgentWorkflow")
class AgentWorkflow(GuardedSteps, EscalationSteps):
    @workflow.init
    def __init__(self, request: m.AgentRequest) -> None:
        super().__init__(request)

    @workflow.run
    async def run(self, request: m.AgentRequest) -> m.AgentResult:
        self._human_loop = workflow.patched(HUMAN_LOOP_PATCH)
        guarded = workflow.patched(GUARDRAILS_PATCH)
        runner = ToolRunner(self._human, self._in_flight, reminders=self._human_loop)
        self._publish()
        events.emit(
            "agent.start",
            self._turn,
            user_id=request.user_id,
            toolset=request.toolset,
            model=request.model.model,
            prompt_version=prompts.PROMPT_VERSION,
            max_turns=self._turn_limit,
            runs=self._runs,
        )
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
        except AgentError as err:
            # The rule of core/worker_options.py: our taxonomy in workflow code ends the run, typed.
            answer = f"The run stopped ({err.type_name}): {err.message}"
            return self._finish(Stop(m.RunState.FAILED, answer, err.type_name))

    async def _step(self, turn: int, runner: ToolRunner) -> None:
        """One ReAct turn: think, then act on the proposed calls (raises Stop to end the run)."""
        reply = await self._think(turn)
        if reply.rejected is not None:
            # Too large to carry: nothing of it was kept; the model reads why, as a typed observation.
            refusal = observations.failure(InvalidInputError.__name__, reply.rejected)
            self._messages.append(
                m.ChatMessage(role="user", content=prompts.REJECTED_REPLY.format(why=refusal))
            )
            return
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
        records = list(await asyncio.gather(*(self._act(turn, r, runner) for r in routed)))
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

    async def _act(self, turn: int, routed: RoutedCall, runner: ToolRunner) -> m.ToolCallRecord:
        record = await self._run_guarded(turn, routed, runner)
        self._progress.call_ended(workflow.now(), record)  # as each call ends, not when all have
        return record

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

    def _llm_request(self, turn: int, prompt: list[m.ChatMessage]) -> m.LlmRequest:
        """The toolset, and a system prompt that is this version's, go by name: the worker puts them back
        (activities/llm/expand.py), and history keeps ~2.5 KB less per turn than with their text."""
        head = prompt[0] if prompt else None
        by_version = (
            head is not None
            and head.role == "system"
            and head.content == prompts.SYSTEM_PROMPTS[prompts.PROMPT_VERSION]
        )
        return m.LlmRequest(
            workflow_id=workflow.info().workflow_id,
            turn=turn,
            messages=tuple(prompt[1:] if by_version else prompt),
            toolset=self._request.toolset if self._schemas else None,
            settings=self._request.model,
            prompt_version=prompts.PROMPT_VERSION,
            system_by_version=by_version,
            price=budgets.quote_of_override(self._request.run_budgets().price),
        )

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
                events.warn("budget.exhausted", turn, which="daily", reason=granted.reason)
                answer = f"{granted.reason} {partial_answer(self._turn - 1, self._calls)}"
                raise Stop(m.RunState.BUDGET_EXHAUSTED, answer, BudgetExceededError.__name__)
        request = self._llm_request(turn, prompt)
        self._thinking = f"thinking (turn {turn})"
        started = workflow.now()
        self._progress.add(started, ProgressKind.THINKING, turn)
        try:
            reply = await workflow.execute_activity(
                "llm.complete",
                request,
                result_type=m.LlmResponse,
                start_to_close_timeout=LLM_TIMEOUT,
                heartbeat_timeout=LLM_HEARTBEAT_TIMEOUT,
                retry_policy=LLM_RETRY,
                summary=f"turn {turn}",
            )
        except ActivityError as err:
            error_type, message, _ = failure_of(err)
            if self._guard is not None:
                await self._guard.settle(f"llm-{turn}", m.TokenUsage(), 0.0)  # release the reservation
            self._steps.append(m.TraceStep(turn=turn, thought="", error=f"{error_type}: {message}"))
            self._progress.add(workflow.now(), ProgressKind.THOUGHT, turn, outcome=error_type, detail=message)
            answer = f"The run stopped because the model call failed ({error_type}): {message}"
            raise Stop(m.RunState.FAILED, answer, error_type) from None
        finally:
            self._thinking = None
        self._usage += reply.usage
        if self._guard is not None:
            cost = self._guard.after_call(reply)
            await self._guard.settle(f"llm-{turn}", reply.usage, cost)
        else:
            cost = reply.cost_usd
        self._cost += cost
        step = m.TraceStep(
            turn=turn,
            thought=reply.content,
            actions=tuple(f"{c.name}({short(c.arguments)})" for c in reply.tool_calls),
            tokens=reply.usage,
            cost_usd=reply.cost_usd,
            latency_ms=(workflow.now() - started).total_seconds() * 1000,
            error=reply.parse_error or reply.rejected,
        )
        self._steps.append(step)
        self._progress.add(
            workflow.now(),
            ProgressKind.THOUGHT,
            turn,
            "; ".join(step.actions),
            outcome="rejected" if reply.rejected else "unparseable" if reply.parse_error else None,
            latency_ms=round(step.latency_ms, 1),
            tokens=reply.usage.total,
            detail=" ".join(reply.content.split())[:200],
        )
        return reply

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
            in_flight=(*((self._thinking,) if self._thinking else ()), *self._in_flight.values()),
            escalation=self._human.escalation if self._state == m.RunState.ESCALATED else None,
            steps=tuple(self._steps),
            calls=tuple(self._calls),
            audit=tuple(self._human.gate.audit),
        )

    @workflow.query(name="progress")
    def progress(self, since: int) -> ProgressPage:
        """Step events from `since` on: `run` follows a run with this, one short page per poll."""
        return ProgressPage(
            events=self._progress.since(since),
            next_seq=self._progress.next_seq,
            run=self._runs,
            state=self._state,
            pending=tuple(self._human.gate.pending.values()),
            escalation=self._human.escalation if self._state == m.RunState.ESCALATED else None,
        )
