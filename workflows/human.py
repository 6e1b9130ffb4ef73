"""The human side of a run: approvals with deadlines and reminders, escalations awaiting a reply.

Workflow code (waits on `workflow.wait_condition`, reads `workflow.now()`); every decision and
every rejected payload lands in the audit trail.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from workflows import signals
    from workflows.approval import ApprovalGate, Decision


class HumanLoop:
    def __init__(self, limits: m.AgentLimits, on_change: Callable[[], None]) -> None:
        self.gate = ApprovalGate()
        self.escalation: m.Escalation | None = None
        self.reply: m.HumanReplySignal | None = None
        self.cancel: m.CancelSignal | None = None
        self._limits = limits
        self._on_change = on_change

    # ── approvals ───────────────────────────────────────────────────────────

    async def approval(
        self, turn: int, call_id: str, tool: str, args: dict[str, Any], *, reminders: bool
    ) -> Decision:
        """Ask for a decision on one irreversible call and wait for it, its deadline, or a cancel."""
        blocked = self.gate.blocked_reason(tool, args)
        if blocked is not None:
            return Decision("denied", "system", f"the same call was denied earlier in this run: {blocked}")
        timeout = timedelta(seconds=self._limits.approval_timeout_s)
        item = self.gate.request(call_id, turn, tool, args, workflow.now(), timeout)
        self._on_change()
        workflow.logger.info("approval.requested", extra={"call_id": call_id, "tool": tool})
        if reminders and not await self._wait_decided(call_id, timeout / 2):
            self.gate.remind(call_id, workflow.now())
            workflow.logger.warning(
                "approval.reminder", extra={"call_id": call_id, "deadline": str(item.deadline)}
            )
            self._on_change()
        if not await self._wait_decided(call_id, item.deadline - workflow.now()):
            reason = "run_cancelled" if self.cancel is not None else "approval_timeout"
            self.gate.expire(call_id, workflow.now(), reason)
            workflow.logger.warning("approval.timeout", extra={"call_id": call_id, "reason": reason})
        self._on_change()
        return self.gate.decisions[call_id]

    async def _wait_decided(self, call_id: str, within: timedelta) -> bool:
        """Whether the call was decided `within` (a cancel also ends the wait, undecided)."""
        if call_id in self.gate.decisions:
            return True
        if self.cancel is None and within > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: call_id in self.gate.decisions or self.cancel is not None, timeout=within
                )
        return call_id in self.gate.decisions

    # ── escalation ──────────────────────────────────────────────────────────

    async def escalate(self, trigger: str, reason: str, ticket_id: str | None) -> m.HumanReplySignal | None:
        """Wait for a human's reply; None when the escalation deadline passes or the run is cancelled."""
        now = workflow.now()
        timeout = timedelta(seconds=self._limits.escalation_timeout_s)
        self.escalation = m.Escalation(
            trigger=trigger, reason=reason, ticket_id=ticket_id, since=now, deadline=now + timeout
        )
        self.reply = None
        self.gate.note(now, "escalated", ticket_id or "-", "system", f"{trigger}: {reason}")
        workflow.logger.warning("escalation.started", extra={"trigger": trigger, "ticket_id": ticket_id})
        self._on_change()
        try:
            await workflow.wait_condition(
                lambda: self.reply is not None or self.cancel is not None, timeout=timeout
            )
        except TimeoutError:
            workflow.logger.warning("escalation.timeout", extra={"ticket_id": ticket_id})
            return None
        return self.reply

    # ── signal payloads (raw JSON: a bad one is audited, never a crash) ─────

    def on_approve(self, payload: Any) -> None:
        signal, error = signals.parse(m.ApproveSignal, payload)
        if signal is None:
            self._reject_payload(payload, error)
        else:
            self._decided(self.gate.approve(signal, workflow.now()))

    def on_deny(self, payload: Any) -> None:
        signal, error = signals.parse(m.DenySignal, payload)
        if signal is None:
            self._reject_payload(payload, error)
        else:
            self._decided(self.gate.deny(signal, workflow.now()))

    def on_reply(self, payload: Any) -> None:
        reply, error = signals.parse(m.HumanReplySignal, payload)
        actor = signals.field(payload, "responder")
        if reply is not None and self.escalation is None:
            error = "the run is not escalated: nothing to reply to"
        elif reply is not None and self.reply is not None:
            error = "the escalation already has a reply"
        if error is not None or reply is None:
            self.gate.note(workflow.now(), "rejected", "human_reply", actor, error)
            workflow.logger.warning("escalation.reply_rejected", extra={"why": error})
            return
        self.reply = reply
        self.gate.note(
            workflow.now(), "human_reply", "human_reply", reply.responder, f"resume={reply.resume}"
        )

    def on_cancel(self, payload: Any) -> None:
        signal, error = signals.parse(m.CancelSignal, payload)
        if signal is None:
            self.gate.note(workflow.now(), "rejected", "cancel", signals.field(payload, "by"), error)
            return
        if self.cancel is None:
            self.cancel = signal
            self.gate.note(workflow.now(), "cancelled", "run", signal.by, signal.reason)

    def _decided(self, rejected: str | None) -> None:
        # The gate itself audits a decision it refuses (wrong hash, not pending, already decided).
        # No publishing here: the waiting approval publishes once it resumes, in the recorded order.
        if rejected is not None:
            workflow.logger.warning("approval.rejected", extra={"why": rejected})

    def _reject_payload(self, payload: Any, error: str | None) -> None:
        call_id = signals.field(payload, "call_id") or "-"
        self.gate.note(workflow.now(), "rejected", call_id, signals.field(payload, "approver"), error)
        workflow.logger.warning("approval.rejected", extra={"why": error})
