"""Live progress contract: the `progress` query's page of step events, shared by workflow and CLI."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from core.models import Escalation, Frozen, PendingApproval, RunState

# Most events one query answer carries; a reader that fell behind asks again from `next_seq`.
PAGE_EVENTS = 200


class ProgressKind(StrEnum):
    THINKING = "thinking"  # an LLM call started
    THOUGHT = "thought"  # it answered: thought, the calls it asked for, tokens, latency
    CALL_START = "call.start"  # a tool activity was scheduled
    CALL_END = "call.end"  # its outcome (ok, error, rejected, denied) and latency
    APPROVAL_WAITING = "approval.waiting"
    APPROVAL_DECIDED = "approval.decided"
    ESCALATED = "escalated"
    HUMAN_REPLY = "human_reply"
    ENDED = "ended"


class ProgressEvent(Frozen):
    """One thing the run did, stamped with workflow time when it did it (a retry is not an event)."""

    seq: int
    at: datetime
    kind: ProgressKind
    turn: int
    label: str = ""
    outcome: str | None = None
    latency_ms: float | None = None
    tokens: int | None = None
    detail: str = ""


class ProgressPage(Frozen):
    events: tuple[ProgressEvent, ...] = ()
    next_seq: int = 0
    # Which run of the chain answered: after a continue-as-new the sequence starts again at 0.
    run: int = 1
    state: RunState
    pending: tuple[PendingApproval, ...] = ()
    escalation: Escalation | None = None
