"""Escalation: when a run hands its case to a human (the agent's policy, checked in code) and how.

The triggers are pure functions of the agent's EscalationPolicy and the calls so far; the Escalator
opens the ticket with the agent's escalation tool, waits for a human's reply and resumes the loop
with fresh turns, or ends the run with the reply as its answer.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from core.agent import Agent, EscalationPolicy
    from core.triggers import EscalationTrigger
    from workflows import events, prompts
    from workflows.activity_options import failure_of
    from workflows.guard import Guard
    from workflows.human import HumanLoop
    from workflows.outcome import Stop, partial_answer
    from workflows.state import AgentState
    from workflows.tool_calls import execute

Trigger = tuple[EscalationTrigger, str]


@functools.lru_cache(maxsize=64)
def _pattern(phrases: tuple[str, ...], exclamations: int) -> re.Pattern[str] | None:
    parts = [r"\b(" + "|".join(map(re.escape, phrases)) + r")\b"] if phrases else []
    if exclamations > 0:
        parts.append("!{" + str(exclamations) + ",}")
    return re.compile("|".join(parts), re.I) if parts else None


def customer_trigger(text: str, policy: EscalationPolicy) -> Trigger | None:
    """(trigger, reason) when the user's words call for a human under the agent's policy."""
    for trigger, phrases in _ordered(policy.phrases):
        exclaim = policy.exclamations if trigger == EscalationTrigger.CUSTOMER_ANGER else 0
        pattern = _pattern(tuple(phrases), exclaim)
        found = pattern.search(text) if pattern else None
        if found:
            return trigger, f"the customer's message contains {found.group(0)!r}"
    return None


def _ordered(phrases: Mapping[EscalationTrigger, tuple[str, ...]]) -> list[tuple[EscalationTrigger, Any]]:
    return sorted(phrases.items(), key=lambda item: list(EscalationTrigger).index(item[0]))


def repeated_failure(calls: Iterable[m.ToolCallRecord], threshold: int) -> Trigger | None:
    """(trigger, reason) when one tool has failed with a classified error `threshold` times or more."""
    failures = Counter(c.tool for c in calls if c.outcome == m.ToolOutcome.ERROR and c.error_type)
    for tool, count in failures.items():
        if threshold > 0 and count >= threshold:
            return EscalationTrigger.REPEATED_FAILURE, f"{tool} failed {count} times"
    return None


def approval_timed_out(calls: Iterable[m.ToolCallRecord]) -> Trigger | None:
    for c in calls:
        if c.outcome == m.ToolOutcome.DENIED and "approval_timeout" in c.observation:
            reason = f"nobody approved {c.tool} ({c.call_id}) before its deadline"
            return EscalationTrigger.APPROVAL_TIMEOUT, reason
    return None


class Escalator:
    def __init__(
        self,
        agent: Agent[Any],
        state: AgentState,
        human: HumanLoop,
        guard: Guard,
        publish: Callable[[], None],
        fresh_turns: int,
        task: str,
    ) -> None:
        self._agent, self._policy = agent, agent.escalation
        self._state, self._human, self._guard = state, human, guard
        self._publish = publish
        self._fresh_turns = fresh_turns
        self._task = task

    async def on_task(self, task: str) -> None:
        trigger = customer_trigger(task, self._policy)
        if trigger is not None:
            await self.escalate(*trigger, ticket_id=None)

    async def after_calls(self, records: list[m.ToolCallRecord]) -> None:
        for record in records:
            if record.tool == self._policy.tool and record.outcome == m.ToolOutcome.OK:
                result = record.result if isinstance(record.result, dict) else {}
                ticket = str(result.get("ticket_id") or "-")
                await self.escalate(EscalationTrigger.MODEL, str(record.args.get("reason", "")), ticket)
                return
        recent = self._state.calls[self._state.calls_at_escalation :]
        found = approval_timed_out(records) or repeated_failure(recent, self._policy.repeated_failures)
        if found is not None:
            await self.escalate(*found, ticket_id=None)

    async def escalate(self, trigger: EscalationTrigger, reason: str, ticket_id: str | None) -> None:
        """Hand the case to a human; their reply ends the run or resumes it with fresh turns."""
        state = self._state
        state.escalations += 1
        if ticket_id is None:
            ticket_id = await self.open_ticket(reason)
        state.status = m.RunState.ESCALATED
        reply = await self._human.escalate(trigger, reason, ticket_id)
        state.calls_at_escalation = len(state.calls)
        self.check_cancel()
        if reply is None:
            hours = self._human.limits.escalation_timeout_s / 3600
            answer = (
                f"I handed this case to a human colleague (ticket {ticket_id}), but nobody answered within "
                f"{hours:g} hours. The case stays open and a colleague will follow up."
            )
            raise Stop(m.RunState.ESCALATED_UNRESOLVED, answer, "escalation_timeout")
        if not reply.resume:
            state.answered_by = reply.responder
            raise Stop(m.RunState.COMPLETED, reply.text, "human_reply")
        guidance = prompts.HUMAN_GUIDANCE.format(responder=reply.responder, text=reply.text)
        state.messages.append(m.ChatMessage(role="user", content=guidance))
        state.turn_limit = state.turn + self._fresh_turns
        self._guard.grant_turns(self._fresh_turns)
        state.status = m.RunState.RUNNING
        self._publish()

    async def open_ticket(self, reason: str) -> str | None:
        """Create the escalation ticket (idempotent, like every side effect) when the agent has a tool."""
        if self._policy.tool is None:
            return None
        spec = self._agent.registry.get(self._policy.tool)
        args = {"reason": reason[:1000], "summary": self._task[:5000]}
        try:
            output = await execute(self._agent, spec, f"esc-{self._state.escalations}", args)
        except ActivityError as err:
            error = str(failure_of(err)[:2])
            events.emit("escalation.ticket_failed", self._state.turn, level=logging.ERROR, error=error)
            return None
        result = output.result if isinstance(output.result, dict) else {}
        ticket = result.get("ticket_id")
        return str(ticket) if ticket is not None else None

    def check_cancel(self) -> None:
        cancel = self._human.cancel
        if cancel is not None:
            found = partial_answer(self._state.turn, self._state.calls)
            answer = f"The run was cancelled by {cancel.by}: {cancel.reason}. {found}"
            raise Stop(m.RunState.CANCELLED, answer, "cancelled")
