"""What a conversation's `progress` query answers: the shape of a single run's, so every follower
of a run's progress (the CLI, the HTTP API) follows a conversation's messages the same way."""

from __future__ import annotations

from core import conversation as c
from core import models as m
from workflows.human import HumanLoop
from workflows.progress import ProgressLog


def progress_page(
    human: HumanLoop, progress: ProgressLog, state: c.ConversationState, run: int, since: int
) -> m.ProgressPage:
    """The events from `since` on, with the message's state as a single run would report it."""
    shown = m.RunState.AWAITING_APPROVAL if human.gate.pending else m.RunState.RUNNING
    if human.escalation is not None and human.reply is None and state == c.ConversationState.BUSY:
        shown = m.RunState.ESCALATED
    if state == c.ConversationState.CLOSED:
        shown = m.RunState.COMPLETED
    return m.ProgressPage(
        events=progress.since(since),
        next_seq=progress.next_seq,
        run=run,
        state=shown,
        pending=tuple(human.gate.pending.values()),
        escalation=human.escalation if shown == m.RunState.ESCALATED else None,
    )
