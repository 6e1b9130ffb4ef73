"""AgentWorkflow: the ReAct loop of DESIGN §1 as deterministic workflow code."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    # Pydantic models and the tool catalog are pure and heavy: import once, not per sandboxed run.
    from activities.tools.catalog import ESCALATE_TOOL
    from activities.toolsets import TOOLSETS
    from core import models as m
    from core.errors import InvalidInputError
    from core.search_attributes import (
        AGENT_COST_USD,
        AGENT_PROMPT_VERSION,
        AGENT_STATUS,
        AGENT_TURNS,
        AGENT_USER,
    )
    from core.toolspec import ToolRegistry
    from workflows import critic, observations, prompts
    from workflows.activity_options import LLM_RETRY, LLM_TIMEOUT, failure_of
    from workflows.approval import ApprovalGate, Decision
    from workflows.outcome import Stop, partial_answer
    from workflows.routing import RoutedCall, renumber, route

SCHEMAS = {name: registry.schemas() for name, registry in TOOLSETS.items()}
IRREVERSIBLE = {spec.name for registry in TOOLSETS.values() for spec in registry if spec.irreversible}
# Changes of the command sequence, kept so histories recorded before them still replay.
PRECHECK_PATCH = "precheck-before-approval"
CRITIC_PATCH = "critic-final-answer"


@workflow.defn(name="AgentWorkflow")
class AgentWorkflow:
    @workflow.init
    def __init__(self, request: m.AgentRequest) -> None:
        self._request = request
        # An unknown toolset offers no tools: every call is refused in routing, nothing runs.
        self._tools = TOOLSETS.get(request.toolset, ToolRegistry([]))
        self._schemas = SCHEMAS.get(request.toolset, ())
        self._state = m.RunState.RUNNING
        self._turn = 0
        self._gate = ApprovalGate()
        self._steps: list[m.TraceStep] = []
        self._calls: list[m.ToolCallRecord] = []
        self._usage = m.TokenUsage()
        self._cost = 0.0
        self._in_flight: dict[str, str] = {}
        self._cancel: m.CancelSignal | None = None
        self._published: dict[str, object] = {}
        self._critiqued = False
        self._messages: list[m.ChatMessage] = [
            m.ChatMessage(role="system", content=prompts.SYSTEM_PROMPT),
            m.ChatMessage(role="user", content=prompts.TASK_TEMPLATE.format(task=request.task)),
        ]

    @workflow.run
    async def run(self, request: m.AgentRequest) -> m.AgentResult:
        self._publish()
        try:
            if request.toolset not in TOOLSETS:
                known = ", ".join(sorted(TOOLSETS))
                raise Stop(
                    m.RunState.FAILED,
                    f"Unknown toolset {request.toolset!r} (known: {known}).",
                    InvalidInputError.__name__,
                )
            for turn in range(1, request.limits.max_turns + 1):
                self._check_cancel()
                self._turn = turn
                await self._step(turn)
            raise Stop(
                m.RunState.BUDGET_EXHAUSTED,
                partial_answer(request.limits.max_turns, self._calls),
                "max_turns",
            )
        except Stop as stop:
            return self._finish(stop)

    async def _step(self, turn: int) -> None:
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
        # Independent calls run in parallel; observations return in call order.
        records = await asyncio.gather(*(self._act(turn, route(call, self._tools)) for call in calls))
        for record in records:
            self._calls.append(record)
            self._messages.append(
                m.ChatMessage(
                    role="tool", content=record.observation, tool_call_id=record.call_id, name=record.tool
                )
            )
        self._publish()
        self._end_if_escalated(records)

    def _final_answer(self, turn: int, answer: str) -> None:
        """End the run with the model's answer, once the critic finds every action stated in it."""
        if workflow.patched(CRITIC_PATCH):
            missing = critic.unreported(answer, self._calls, IRREVERSIBLE)
            if missing and not self._critiqued and turn < self._request.limits.max_turns:
                self._critiqued = True
                facts = " ".join(missing)
                self._messages.append(m.ChatMessage(role="assistant", content=answer))
                self._messages.append(
                    m.ChatMessage(role="user", content=prompts.CRITIC_REPLY.format(facts=facts))
                )
                return
            if missing:
                # Still missing after one chance: state the facts rather than let the answer hide them.
                answer = f"{answer}\n\nActions taken: {' '.join(missing)}"
        denied = any(c.outcome == m.ToolOutcome.DENIED for c in self._calls)
        status = m.RunState.DENIED if denied and not self._acted() else m.RunState.COMPLETED
        raise Stop(status, answer, None)

    async def _think(self, turn: int) -> m.LlmResponse:
        request = m.LlmRequest(
            workflow_id=workflow.info().workflow_id,
            turn=turn,
            messages=tuple(self._messages),
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
            self._steps.append(m.TraceStep(turn=turn, thought="", error=f"{error_type}: {message}"))
            raise Stop(
                m.RunState.FAILED,
                f"The run stopped because the model call failed ({error_type}): {message}",
                error_type,
            ) from None
        finally:
            self._in_flight.pop("llm", None)
        self._usage += reply.usage
        self._cost += reply.cost_usd
        self._steps.append(
            m.TraceStep(
                turn=turn,
                thought=reply.content,
                actions=tuple(f"{c.name}({_short(c.arguments)})" for c in reply.tool_calls),
                tokens=reply.usage,
                cost_usd=reply.cost_usd,
                latency_ms=(workflow.now() - started).total_seconds() * 1000,
                error=reply.parse_error,
            )
        )
        return reply

    async def _act(self, turn: int, routed: RoutedCall) -> m.ToolCallRecord:
        call = routed.call
        if routed.spec is None or routed.args is None:
            err = routed.error or InvalidInputError(f"call {call.id} could not be routed")
            return self._record(
                turn,
                routed,
                m.ToolOutcome.REJECTED,
                observations.failure(err.type_name, err.message, err.details),
                err.type_name,
            )
        spec, args = routed.spec, routed.args
        approver: str | None = None
        if routed.needs_approval:
            if spec.precheck is not None and workflow.patched(PRECHECK_PATCH):
                refused = await self._precheck(turn, routed)
                if refused is not None:
                    return refused
            decision = await self._approval(turn, call.id, spec.name, args)
            if decision.verdict == "denied":
                message = f"a human did not approve this call ({decision.actor}: {decision.reason})"
                return self._record(
                    turn,
                    routed,
                    m.ToolOutcome.DENIED,
                    observations.failure("PermissionDeniedError", message),
                    "PermissionDeniedError",
                )
            approver = decision.actor
        label = f"{spec.name}({_short(args)})"
        self._in_flight[call.id] = label
        started = workflow.now()
        try:
            output = await workflow.execute_activity(
                spec.activity_name,
                self._tool_input(call.id, args),
                result_type=m.ToolOutput,
                start_to_close_timeout=spec.timeout,
                retry_policy=spec.retry_policy(),
                summary=label[:200],
            )
        except ActivityError as err:
            error_type, message, details = failure_of(err)
            return self._record(
                turn,
                routed,
                m.ToolOutcome.ERROR,
                observations.failure(error_type, message, details),
                error_type,
                started,
                approver,
            )
        finally:
            self._in_flight.pop(call.id, None)
        observation = observations.success(output.result, output.note, output.degraded)
        return self._record(turn, routed, m.ToolOutcome.OK, observation, None, started, approver)

    async def _precheck(self, turn: int, routed: RoutedCall) -> m.ToolCallRecord | None:
        """Run the tool's read-only rule check; a refusal becomes the observation, with no approval."""
        spec, call = routed.spec, routed.call
        if spec is None or spec.precheck is None or routed.args is None:
            return None
        started = workflow.now()
        try:
            await workflow.execute_activity(
                spec.precheck_activity_name,
                self._tool_input(call.id, routed.args),
                result_type=m.ToolOutput,
                start_to_close_timeout=spec.timeout,
                retry_policy=spec.retry_policy(),
                summary=f"check {spec.name}",
            )
        except ActivityError as err:
            error_type, message, details = failure_of(err)
            observation = observations.failure(error_type, message, details)
            return self._record(turn, routed, m.ToolOutcome.ERROR, observation, error_type, started)
        return None

    def _tool_input(self, call_id: str, args: dict[str, Any]) -> m.ToolInput:
        workflow_id = workflow.info().workflow_id
        return m.ToolInput(
            workflow_id=workflow_id, call_id=call_id, idempotency_key=f"{workflow_id}:{call_id}", args=args
        )

    async def _approval(self, turn: int, call_id: str, tool: str, args: dict[str, object]) -> Decision:
        blocked = self._gate.blocked_reason(tool, args)
        if blocked is not None:
            return Decision("denied", "system", f"the same call was denied earlier in this run: {blocked}")
        timeout = timedelta(seconds=self._request.limits.approval_timeout_s)
        item = self._gate.request(call_id, turn, tool, args, workflow.now(), timeout)
        self._publish()
        workflow.logger.info("approval.requested", extra={"call_id": call_id, "tool": tool})
        if call_id not in self._gate.decisions:
            try:
                await workflow.wait_condition(
                    lambda: call_id in self._gate.decisions or self._cancel is not None,
                    timeout=item.deadline - workflow.now(),
                )
            except TimeoutError:
                self._gate.expire(call_id, workflow.now())
            if self._cancel is not None and call_id not in self._gate.decisions:
                self._gate.expire(call_id, workflow.now())
        self._publish()
        return self._gate.decisions[call_id]

    def _record(
        self,
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

    def _acted(self) -> bool:
        """Whether any irreversible call actually ran."""
        return any(c.outcome == m.ToolOutcome.OK and c.tool in IRREVERSIBLE for c in self._calls)

    def _end_if_escalated(self, records: list[m.ToolCallRecord]) -> None:
        for record in records:
            if record.tool == ESCALATE_TOOL and record.outcome == m.ToolOutcome.OK:
                ticket = observations.field_of(record.observation, "ticket_id") or "pending"
                reason = record.args.get("reason", "")
                answer = (
                    f"I have handed this case to a human colleague (ticket {ticket}), who will follow up. "
                    f"Reason: {reason}"
                ).strip()
                raise Stop(m.RunState.ESCALATED, answer, "escalate_to_human")

    def _check_cancel(self) -> None:
        if self._cancel is not None:
            answer = f"The run was cancelled by {self._cancel.by}: {self._cancel.reason}. " + partial_answer(
                self._turn, self._calls
            )
            raise Stop(m.RunState.CANCELLED, answer, "cancelled")

    def _finish(self, stop: Stop) -> m.AgentResult:
        self._state = stop.status
        self._publish()
        workflow.logger.info("agent.end", extra={"status": stop.status.value, "turns": self._turn})
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
            audit=tuple(self._gate.audit),
        )

    def _publish(self) -> None:
        """Keep the state and search attributes current; upsert only what changed."""
        if self._state not in m.FINAL_STATES:
            self._state = m.RunState.AWAITING_APPROVAL if self._gate.pending else m.RunState.RUNNING
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

    @workflow.signal(name="approve")
    def approve(self, signal: m.ApproveSignal) -> None:
        rejected = self._gate.approve(signal, workflow.now())
        if rejected:
            workflow.logger.warning("approval.rejected", extra={"call_id": signal.call_id, "why": rejected})

    @workflow.signal(name="deny")
    def deny(self, signal: m.DenySignal) -> None:
        rejected = self._gate.deny(signal, workflow.now())
        if rejected:
            workflow.logger.warning("approval.rejected", extra={"call_id": signal.call_id, "why": rejected})

    @workflow.signal(name="cancel")
    def cancel(self, signal: m.CancelSignal) -> None:
        self._cancel = self._cancel or signal

    @workflow.query(name="status")
    def status(self) -> m.RunStatus:
        return m.RunStatus(
            workflow_id=workflow.info().workflow_id,
            state=self._state,
            turn=self._turn,
            max_turns=self._request.limits.max_turns,
            pending=tuple(self._gate.pending.values()),
            usage=self._usage,
            cost_usd=round(self._cost, 6),
            tool_calls=len(self._calls),
            in_flight=tuple(self._in_flight.values()),
            steps=tuple(self._steps),
            calls=tuple(self._calls),
            audit=tuple(self._gate.audit),
        )


def _short(args: dict[str, object], limit: int = 80) -> str:
    text = ", ".join(str(v) for v in args.values())
    return text if len(text) <= limit else text[: limit - 1] + "…"
