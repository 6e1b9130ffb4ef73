"""The run's state: one object the loop and its collaborators read and change, carried across
continue-as-new as a `Carry` (so a continued run's result is as if it never restarted)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core import models as m
from core.guardrails import ExhaustedBudget
from core.plans import StepView

# Observations kept in records that outlive their run (the result, the carry); full text is in history.
RECORD_CHARS = 1_500


@dataclass
class AgentState:
    messages: list[m.ChatMessage]
    turn_limit: int
    turn: int = 0
    status: m.RunState = m.RunState.RUNNING
    calls: list[m.ToolCallRecord] = field(default_factory=list)
    steps: list[m.TraceStep] = field(default_factory=list)
    usage: m.TokenUsage = field(default_factory=m.TokenUsage)
    cost: float = 0.0
    critiqued: bool = False  # the critic sent one answer back already
    escalations: int = 0
    calls_at_escalation: int = 0  # failures before an escalation do not trigger the next one
    answered_by: str | None = None
    budget_hit: ExhaustedBudget | None = None
    runs: int = 1
    run_first_turn: int = 0
    thinking: str | None = None  # "thinking (turn 2)" while the model call runs, for `status`
    resume_calls: tuple[m.ToolCall, ...] = ()  # a fork's calls awaiting approval, asked again first
    plan: list[StepView] = field(default_factory=list)  # plan mode: every round's steps, their states

    @classmethod
    def begin(cls, system: str, task: str, turn_limit: int) -> AgentState:
        return cls(
            messages=[m.ChatMessage(role="system", content=system), m.ChatMessage(role="user", content=task)],
            turn_limit=turn_limit,
        )

    @classmethod
    def resume(cls, c: m.Carry) -> AgentState:
        """Continue-as-new: pick up exactly where the previous run handed over."""
        return cls(
            messages=list(c.messages),
            turn_limit=c.turn_limit,
            turn=c.turn,
            calls=list(c.calls),
            steps=list(c.steps),
            usage=c.usage,
            cost=c.cost_usd,
            critiqued=c.critiqued,
            escalations=c.escalations,
            calls_at_escalation=c.calls_at_escalation,
            runs=c.runs,
            run_first_turn=c.turn,
            resume_calls=c.resume_calls,
        )

    def carried(self) -> dict[str, object]:
        """The fields of the Carry this state fills (the collaborators add theirs)."""
        return {
            "messages": tuple(self.messages),
            "turn": self.turn,
            "turn_limit": self.turn_limit,
            "calls": tuple(compact(c) for c in self.calls),
            "steps": tuple(self.steps),
            "usage": self.usage,
            "cost_usd": self.cost,
            "critiqued": self.critiqued,
            "escalations": self.escalations,
            "calls_at_escalation": self.calls_at_escalation,
            "runs": self.runs + 1,
        }

    @property
    def live(self) -> bool:
        return self.status in (m.RunState.RUNNING, m.RunState.AWAITING_APPROVAL, m.RunState.ESCALATED)

    def add_usage(self, usage: m.TokenUsage, cost: float) -> None:
        self.usage += usage
        self.cost += cost


def compact(record: m.ToolCallRecord) -> m.ToolCallRecord:
    """A record bounded for the carry and the result: its observation clipped to RECORD_CHARS, and its
    structured result dropped when that is larger (the full text stays in the run's history)."""
    text = record.observation
    update: dict[str, object] = {}
    if len(text) > RECORD_CHARS:
        update["observation"] = (
            f"{text[:RECORD_CHARS]}… [{len(text) - RECORD_CHARS} more characters in the run's history]"
        )
        update["result"] = None
    return record.model_copy(update=update) if update else record
