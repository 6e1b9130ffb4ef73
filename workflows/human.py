"""The human side of a run: approvals with deadlines and reminders, escalations awaiting a reply.

Workflow code (waits on `workflow.wait_condition`, reads `workflow.now()`); every decision and
every rejected payload lands in the audit trail.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from core.progress import ProgressKind
    from core.triggers import EscalationTrigger
    from workflows import events, metrics, signals
    from workflows.approval import ApprovalGate, Decision
    from workflows.progress import ProgressLog


_DECIDED_EVENTS = ("approved", "denied", "timeout")


@dataclass(frozen=True)
class Refusal:
    """Why the `decide` validator refused: `kind` lets a front door answer with the right status."""

    kind: Literal["not_pending", "decided", "expired", "hash_mismatch", "invalid"]
    message: str


class HumanLoop:
    def __init__(
        self,
        limits: m.AgentLimits,
        on_change: Callable[[], None],
        progress: ProgressLog,
        turn: Callable[[], int],
    ) -> None:
        self.gate = ApprovalGate()
        self.escalation: m.Escalation | None = None
        self.reply: m.HumanReplySignal | None = None
        self.cancel: m.CancelSignal | None = None
        self.limits = limits
        self._on_change = on_change
        self._progress = progress
        self._turn = turn

    # ── approvals ───────────────────────────────────────────────────────────

    async def approval(self, turn: int, call_id: str, tool: str, args: dict[str, Any]) -> Decision:
        """Ask for a decision on one irreversible call and wait for it, its deadline, or a cancel."""
        blocked = self.gate.blocked_reason(tool, args)
        if blocked is not None:
            return Decision("denied", "system", f"the same call was denied earlier in this run: {blocked}")
        timeout = timedelta(seconds=self.limits.approval_timeout_s)
        item = self.gate.request(call_id, turn, tool, args, workflow.now(), timeout)
        self._on_change()
        self._progress.add(workflow.now(), ProgressKind.APPROVAL_WAITING, turn, tool, detail=call_id)
        events.emit(
            "approval.requested",
            turn,
            call_id=call_id,
            tool=tool,
            args_sha256=item.args_sha256,
            deadline=item.deadline.isoformat(),
        )
        if not await self._wait_decided(call_id, timeout / 2):
            self.gate.remind(call_id, workflow.now())
            events.warn("approval.reminder", turn, call_id=call_id, deadline=item.deadline.isoformat())
            self._on_change()
        timed_out = not await self._wait_decided(call_id, item.deadline - workflow.now())
        if timed_out:
            reason = "run_cancelled" if self.cancel is not None else "approval_timeout"
            self.gate.expire(call_id, workflow.now(), reason)
        self._on_change()
        decision = self.gate.decisions[call_id]
        self._decision_made(turn, call_id, tool, decision, item.requested_at, timed_out)
        return decision

    def _decision_made(
        self, turn: int, call_id: str, tool: str, decision: Decision, since: datetime, timed_out: bool
    ) -> None:
        """Once per decision, when the waiting call resumes: the event, the metric, the progress line."""
        waited_s = (workflow.now() - since).total_seconds()
        verdict = "timeout" if timed_out else decision.verdict
        metrics.record_approval(workflow.metric_meter(), verdict, waited_s)
        events.emit(
            f"approval.{'timeout' if timed_out else decision.verdict}",
            turn,
            level=logging.WARNING if timed_out else logging.INFO,
            call_id=call_id,
            tool=tool,
            by=decision.actor,
            reason=decision.reason,
            waited_s=round(waited_s, 3),
        )
        self._progress.add(
            workflow.now(),
            ProgressKind.APPROVAL_DECIDED,
            turn,
            tool,
            outcome=verdict,
            detail=f"{decision.actor}: {decision.reason}" if decision.reason else decision.actor,
        )

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

    async def escalate(
        self, trigger: EscalationTrigger, reason: str, ticket_id: str | None
    ) -> m.HumanReplySignal | None:
        """Wait for a human's reply; None when the escalation deadline passes or the run is cancelled."""
        now = workflow.now()
        timeout = timedelta(seconds=self.limits.escalation_timeout_s)
        self.escalation = m.Escalation(
            trigger=trigger, reason=reason, ticket_id=ticket_id, since=now, deadline=now + timeout
        )
        self.reply = None
        self.gate.note(now, "escalated", ticket_id or "-", "system", f"{trigger.value}: {reason}")
        turn = self._turn()
        events.warn(
            "escalation.started", turn, trigger=trigger.value, reason=reason[:500], ticket_id=ticket_id
        )
        metrics.record_escalation(workflow.metric_meter(), trigger.value)
        self._progress.add(now, ProgressKind.ESCALATED, turn, trigger.value, detail=reason[:300])
        self._on_change()
        try:
            await workflow.wait_condition(
                lambda: self.reply is not None or self.cancel is not None, timeout=timeout
            )
        except TimeoutError:
            events.warn("escalation.timeout", turn, ticket_id=ticket_id)
            return None
        if self.reply is not None:
            waited_s = round((workflow.now() - now).total_seconds(), 3)
            by, resume = self.reply.responder, self.reply.resume
            events.emit("escalation.replied", turn, by=by, resume=resume, waited_s=waited_s)
            self._progress.add(workflow.now(), ProgressKind.HUMAN_REPLY, turn, by, outcome=f"resume={resume}")
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

    def decide(self, request: m.DecideUpdate, now: datetime) -> str | None:
        """The `decide` update: approve or deny at once; returns why the gate refused it, or None."""
        if request.verdict == "approve":
            approval = m.ApproveSignal(
                call_id=request.call_id,
                approver=request.approver,
                reason=request.reason,
                args_sha256=request.args_sha256,
            )
            return self.gate.approve(approval, now)
        denial = m.DenySignal(
            call_id=request.call_id, approver=request.approver, reason=request.reason or "-"
        )
        return self.gate.deny(denial, now)

    def refusal_of(self, request: m.DecideUpdate, now: datetime) -> Refusal | None:
        """Why `decide` must be refused before anything is written, or None (its validator)."""
        item = self.gate.pending.get(request.call_id)
        if item is None:
            return self._refusal_of_unpending(request.call_id)
        if now >= item.deadline:
            return Refusal("expired", f"the approval of call {request.call_id} has expired")
        if request.args_sha256 is not None and request.args_sha256 != item.args_sha256:
            return Refusal("hash_mismatch", "args_sha256 does not match the pending call")
        if request.verdict == "deny" and not request.reason:
            return Refusal("invalid", "a denial needs a reason")
        return None

    def _refusal_of_unpending(self, call_id: str) -> Refusal:
        # The audit trail, not `gate.decisions`, because it survives continue-as-new.
        ends = [a for a in self.gate.audit if a.call_id == call_id and a.event in _DECIDED_EVENTS]
        if ends and ends[-1].event == "timeout" and ends[-1].reason == "approval_timeout":
            return Refusal("expired", f"the approval of call {call_id} has expired")
        if ends:
            return Refusal("decided", f"call {call_id} was already decided")
        return Refusal("not_pending", f"call {call_id} is not pending")

    def on_reply(self, payload: Any) -> None:
        reply, error = signals.parse(m.HumanReplySignal, payload)
        actor = signals.field(payload, "responder")
        if reply is not None and self.escalation is None:
            error = "the run is not escalated: nothing to reply to"
        elif reply is not None and self.reply is not None:
            error = "the escalation already has a reply"
        if error is not None or reply is None:
            self.gate.note(workflow.now(), "rejected", "human_reply", actor, error)
            events.warn("escalation.reply_rejected", self._turn(), why=error)
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
            events.warn("approval.rejected", self._turn(), why=rejected)

    def _reject_payload(self, payload: Any, error: str | None) -> None:
        call_id = signals.field(payload, "call_id") or "-"
        self.gate.note(workflow.now(), "rejected", call_id, signals.field(payload, "approver"), error)
        events.warn("approval.rejected", self._turn(), call_id=call_id, why=error)
