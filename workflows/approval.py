"""The approval gate: a pure state machine binding each human decision to exact arguments."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from core.models import ApproveSignal, AuditEntry, AuditEvent, DenySignal, PendingApproval

MAX_EARLY_SIGNALS = 32


def args_sha256(tool: str, args: dict[str, Any]) -> str:
    """Hash of the canonical call: an approval for other arguments can never release this one."""
    canonical = json.dumps({"tool": tool, "args": args}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Decision:
    verdict: Literal["approved", "denied"]
    actor: str
    reason: str | None


@dataclass
class ApprovalGate:
    pending: dict[str, PendingApproval] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    # Signals that raced ahead of their request; applied when the request is made.
    early: dict[str, ApproveSignal | DenySignal] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)  # args hash → denial reason

    def request(
        self, call_id: str, turn: int, tool: str, args: dict[str, Any], now: datetime, timeout: timedelta
    ) -> PendingApproval:
        item = PendingApproval(
            call_id=call_id,
            turn=turn,
            tool=tool,
            args=args,
            args_sha256=args_sha256(tool, args),
            requested_at=now,
            deadline=now + timeout,
        )
        self.pending[call_id] = item
        self._log(now, "requested", call_id, args_sha256=item.args_sha256)
        early = self.early.pop(call_id, None)
        if isinstance(early, ApproveSignal):
            if early.args_sha256 is None:
                # Approving a call nobody has seen yet is blind: only a hash-bound one is honoured.
                self._reject(early, now, "approval arrived before the request without args_sha256")
            else:
                self.approve(early, now)
        elif isinstance(early, DenySignal):
            self.deny(early, now)
        return item

    def blocked_reason(self, tool: str, args: dict[str, Any]) -> str | None:
        """Denials stick: the same tool with the same arguments is refused for the rest of the run."""
        return self.blocked.get(args_sha256(tool, args))

    def approve(self, signal: ApproveSignal, now: datetime) -> str | None:
        """Apply an approval; returns why it was rejected, or None when accepted."""
        item = self.pending.get(signal.call_id)
        if item is None:
            return self._early_or_reject(signal, now)
        if signal.args_sha256 is not None and signal.args_sha256 != item.args_sha256:
            return self._reject(signal, now, "args_sha256 does not match the pending call")
        del self.pending[signal.call_id]
        self.decisions[signal.call_id] = Decision("approved", signal.approver, signal.reason)
        self._log(now, "approved", signal.call_id, signal.approver, signal.reason, item.args_sha256)
        return None

    def deny(self, signal: DenySignal, now: datetime) -> str | None:
        item = self.pending.get(signal.call_id)
        if item is None:
            return self._early_or_reject(signal, now)
        del self.pending[signal.call_id]
        self.decisions[signal.call_id] = Decision("denied", signal.approver, signal.reason)
        self.blocked[item.args_sha256] = signal.reason
        self._log(now, "denied", signal.call_id, signal.approver, signal.reason, item.args_sha256)
        return None

    def expire(self, call_id: str, now: datetime, reason: str = "approval_timeout") -> None:
        """No decision in time (deadline passed, or the run was cancelled): deny with `reason`."""
        item = self.pending.pop(call_id, None)
        if item is None:
            return
        self.decisions[call_id] = Decision("denied", "system", reason)
        self.blocked[item.args_sha256] = reason
        self._log(now, "timeout", call_id, "system", reason, item.args_sha256)

    def remind(self, call_id: str, now: datetime) -> None:
        """Half the deadline has passed: mark the call so `pending` shows it as overdue soon."""
        item = self.pending.get(call_id)
        if item is not None and not item.reminded:
            self.pending[call_id] = item.model_copy(update={"reminded": True})
            self._log(now, "reminder", call_id, "system", f"deadline {item.deadline.isoformat()}")

    def note(self, now: datetime, event: AuditEvent, ref: str, actor: str | None, reason: str | None) -> None:
        """Record a run-level event (escalation, human reply, rejected payload) in the audit trail."""
        self._log(now, event, ref, actor, reason)

    def _early_or_reject(self, signal: ApproveSignal | DenySignal, now: datetime) -> str:
        if signal.call_id in self.decisions:
            return self._reject(signal, now, f"call {signal.call_id} was already decided")
        if len(self.early) >= MAX_EARLY_SIGNALS:
            return self._reject(signal, now, f"call {signal.call_id} is not pending")
        # Deterministic call ids (t<turn>-<n>) let a signal race ahead of the request it answers.
        self.early[signal.call_id] = signal
        return f"call {signal.call_id} is not pending yet; kept until it is requested"

    def _reject(self, signal: ApproveSignal | DenySignal, now: datetime, reason: str) -> str:
        self._log(now, "rejected", signal.call_id, signal.approver, reason)
        return reason

    def _log(
        self,
        now: datetime,
        event: AuditEvent,
        call_id: str,
        actor: str | None = None,
        reason: str | None = None,
        args_sha256: str | None = None,
    ) -> None:
        self.audit.append(
            AuditEntry(
                at=now, event=event, call_id=call_id, actor=actor, reason=reason, args_sha256=args_sha256
            )
        )
