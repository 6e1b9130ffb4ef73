"""What a conversation counts, and what it hands to its next run on continue-as-new.

Pure: the counters of the whole conversation (they outlive each run), the carry built from them and
from the collaborators' state, the agent's conversation policy with the request's overrides.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from core import conversation as c
from core import models as m
from core.guardrails import BudgetUse
from workflows.approval import ApprovalGate
from workflows.config import RunConfig
from workflows.conversation_memory import ConversationMemory
from workflows.inbox import Inbox
from workflows.progress import CARRY_EVENTS, ProgressLog
from workflows.tool_cache import ToolCache

CARRIED_ANSWERS = 20


@dataclass
class Counters:
    """The conversation's running totals, the same whichever run of it is current."""

    opened_run: str
    opened_at: datetime
    last_activity: datetime
    runs: int = 1
    turns: int = 0  # model turns of all messages: tool call ids (t<turn>-<n>) never repeat
    escalations: int = 0
    handled: int = 0
    spent: BudgetUse = dataclasses.field(default_factory=BudgetUse)

    @classmethod
    def resume(cls, carry: c.ConversationCarry | None, run_id: str, now: datetime) -> Counters:
        if carry is None:
            return cls(opened_run=run_id, opened_at=now, last_activity=now)
        return cls(
            opened_run=carry.opened_run,
            opened_at=carry.opened_at,
            last_activity=carry.last_activity,
            runs=carry.runs,
            turns=carry.turns,
            escalations=carry.escalations,
            handled=carry.handled,
            spent=carry.spent,
        )

    def spend(self, used: BudgetUse) -> None:
        s = self.spent
        self.spent = BudgetUse(
            turns=s.turns + used.turns,
            tool_calls=s.tool_calls + used.tool_calls,
            prompt_tokens=s.prompt_tokens + used.prompt_tokens,
            completion_tokens=s.completion_tokens + used.completion_tokens,
            cost_usd=s.cost_usd + used.cost_usd,
        )


@dataclass(frozen=True)
class Parts:
    """The collaborators whose state a carry holds."""

    memory: ConversationMemory
    inbox: Inbox
    cache: ToolCache
    gate: ApprovalGate
    progress: ProgressLog


def build(counters: Counters, parts: Parts, now: datetime) -> c.ConversationCarry:
    memory, inbox = parts.memory, parts.inbox
    # The newest answers travel (for await_reply), without their tool calls: the carry stays small.
    newest = list(inbox.answers.values())[-CARRIED_ANSWERS:]
    answered = tuple(r.model_copy(update={"tool_calls": ()}) for r in newest)
    return c.ConversationCarry(
        opened_run=counters.opened_run,
        opened_at=counters.opened_at,
        runs=counters.runs + 1,
        summary=memory.summary,
        recent=tuple(memory.recent),
        kept_ids=tuple(memory.kept_ids),
        first_message=memory.first_message,
        episodes=memory.episodes,
        queued=tuple(inbox.queued),
        answered=answered,
        next_message=inbox.next_number,
        handled=counters.handled,
        turns=counters.turns,
        escalations=counters.escalations,
        cache=parts.cache.carried(now),
        spent=counters.spent,
        audit=tuple(parts.gate.audit),
        blocked=dict(parts.gate.blocked),
        last_activity=counters.last_activity,
        progress=parts.progress.tail(CARRY_EVENTS),
        progress_next_seq=parts.progress.next_seq,
    )


def policy_of(config: RunConfig | None, request: c.ConversationRequest) -> c.ConversationPolicy:
    """The agent's conversation policy, with the request's overrides."""
    policy = config.agent.conversation if config else c.ConversationPolicy()
    if request.idle_timeout_s is not None:
        policy = dataclasses.replace(policy, idle_timeout_s=request.idle_timeout_s)
    if request.history_bytes_per_run is not None:
        policy = dataclasses.replace(policy, history_bytes_per_run=request.history_bytes_per_run)
    if request.messages_per_run is not None:
        policy = dataclasses.replace(policy, messages_per_run=request.messages_per_run)
    return policy


def as_run(request: c.ConversationRequest, task: str) -> m.AgentRequest:
    """A message as the single run's request: the agent, the user, the model and the budgets."""
    return m.AgentRequest(
        task=task, agent=request.agent, user_id=request.user_id, budgets=request.budgets, model=request.model
    )
