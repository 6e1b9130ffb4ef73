"""Continue-as-new: when to hand over, and everything the next run inherits (a `Carry`)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from workflows.approval import ApprovalGate
    from workflows.guard import Guard
    from workflows.progress import CARRY_EVENTS, ProgressLog
    from workflows.state import AgentState

# Temporal suggests continue-as-new long before its hard limits; this keeps every run far below them.
MAX_HISTORY_EVENTS = 2_000


def due(turns_this_run: int, guard: Guard) -> bool:
    """Hand over at the turn threshold, or when the server says history is getting long."""
    info = workflow.info()
    return (
        turns_this_run >= guard.context.turns_per_run
        or info.is_continue_as_new_suggested()
        or info.get_current_history_length() >= MAX_HISTORY_EVENTS
    )


def build(
    state: AgentState,
    guard: Guard,
    gate: ApprovalGate,
    progress: ProgressLog,
    prompt_version: str,
    prompt_channel: str = "",
) -> m.Carry:
    return m.Carry.model_validate(
        {
            **state.carried(),
            "prompt_version": prompt_version,
            "prompt_channel": prompt_channel,
            "summary": guard.summary,
            "audit": tuple(gate.audit),
            "blocked": dict(gate.blocked),
            "spent": guard.spent,
            "started_at": guard.started_at,
            "ratio": guard.ratio,
            "served_model": guard.served_model,
            "loop": guard.loop_state(),
            "progress": progress.tail(CARRY_EVENTS),
            "progress_next_seq": progress.next_seq,
        }
    )
