"""Live progress contract: the step events the `progress` query pages through (see models.ProgressPage)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from core.frozen import Frozen

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
    PLAN = "plan"  # a plan was accepted (label: its steps) or refused (outcome "refused", detail why)
    RATE_LIMITED = "rate_limited"  # a call waits for the fleet's rate limit (detail: how long)
    PLAN_STEP = "plan.step"  # a plan step changed state (label: step id and tool, outcome: state)


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
