"""Escalation steps of the loop: when to hand the case to a human and how (mixin of AgentWorkflow)."""

from __future__ import annotations

import logging

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    # Pydantic models and the tool catalog are pure and heavy: import once, not per sandboxed run.
    from activities.tools.catalog import ESCALATE_TOOL
    from core import models as m
    from workflows import escalation, events, observations, prompts
    from workflows.acting import execute
    from workflows.activity_options import failure_of
    from workflows.outcome import Stop, partial_answer

from workflows.agent_base import AgentBase


class EscalationSteps(AgentBase):
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
            events.emit(
                "escalation.ticket_failed", self._turn, level=logging.ERROR, error=str(failure_of(err)[:2])
            )
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
