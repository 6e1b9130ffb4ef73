"""What a run shows its humans: the approvals it waits for, its audit trail, its escalation."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from core.frozen import Frozen
from core.triggers import EscalationTrigger


class PendingApproval(Frozen):
    call_id: str
    turn: int
    tool: str
    args: dict[str, Any]
    args_sha256: str
    requested_at: datetime
    deadline: datetime
    # Set at half the deadline, so `pending` can show the approval as overdue soon.
    reminded: bool = False


AuditEvent = Literal[
    "requested",
    "approved",
    "denied",
    "rejected",
    "timeout",
    "reminder",
    "escalated",
    "human_reply",
    "cancelled",
]


class AuditEntry(Frozen):
    at: datetime
    event: AuditEvent
    call_id: str
    actor: str | None = None
    reason: str | None = None
    args_sha256: str | None = None


class Escalation(Frozen):
    trigger: EscalationTrigger
    reason: str
    ticket_id: str | None = None
    since: datetime
    deadline: datetime
