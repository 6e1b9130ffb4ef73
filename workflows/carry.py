"""Continue-as-new: when to hand over, and what the next run inherits."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from workflows.guard import Guard
    from workflows.progress import CARRY_EVENTS, ProgressLog

# Temporal suggests continue-as-new long before its hard limits; this keeps every run far below them.
MAX_HISTORY_EVENTS = 2_000
# Observations kept in records that outlive their run (the result, the carry); full text is in history.
RECORD_CHARS = 1_500


def compact(record: m.ToolCallRecord) -> m.ToolCallRecord:
    """A record whose observation is at most RECORD_CHARS: the carry and result stay bounded per call."""
    text = record.observation
    if len(text) <= RECORD_CHARS:
        return record
    clipped = f"{text[:RECORD_CHARS]}… [{len(text) - RECORD_CHARS} more characters in the run's history]"
    return record.model_copy(update={"observation": clipped})


def due(turns_this_run: int, guard: Guard) -> bool:
    """Hand over at the turn threshold, or when the server says history is getting long."""
    info = workflow.info()
    return (
        turns_this_run >= guard.context.turns_per_run
        or info.is_continue_as_new_suggested()
        or info.get_current_history_length() >= MAX_HISTORY_EVENTS
    )


def build(
    *,
    messages: list[m.ChatMessage],
    guard: Guard,
    turn: int,
    turn_limit: int,
    calls: list[m.ToolCallRecord],
    steps: list[m.TraceStep],
    audit: list[m.AuditEntry],
    blocked: dict[str, str],
    usage: m.TokenUsage,
    cost_usd: float,
    critiqued: bool,
    escalations: int,
    calls_at_escalation: int,
    runs: int,
    progress: ProgressLog,
) -> m.Carry:
    return m.Carry(
        messages=tuple(messages),
        summary=guard.summary,
        turn=turn,
        turn_limit=turn_limit,
        calls=tuple(compact(c) for c in calls),
        steps=tuple(steps),
        audit=tuple(audit),
        blocked=dict(blocked),
        usage=usage,
        cost_usd=cost_usd,
        spent=guard.spent,
        started_at=guard.started_at,
        ratio=guard.ratio,
        served_model=guard.served_model,
        loop=guard.loop_state(),
        critiqued=critiqued,
        escalations=escalations,
        calls_at_escalation=calls_at_escalation,
        runs=runs + 1,
        progress=progress.tail(CARRY_EVENTS),
        progress_next_seq=progress.next_seq,
    )
