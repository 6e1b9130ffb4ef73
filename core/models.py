"""Pydantic models for every workflow and activity input and output."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator
from temporalio.contrib.workflow_streams import WorkflowStreamState

from core.decisions import (
    ApproveSignal,
    CancelSignal,
    DecideResult,
    DecideUpdate,
    DenySignal,
    HumanReplySignal,
)
from core.frozen import Frozen
from core.guardrails import (
    BudgetUse,
    ContextSettings,
    ExhaustedBudget,
    LoopCounters,
    LoopState,
    RunBudgets,
    UserDayBudget,
)
from core.llm import (
    ChatMessage,
    LlmRequest,
    LlmResponse,
    ModelSettings,
    PriceQuote,
    SummarizeRequest,
    SummarizeResult,
    TokenUsage,
    ToolCall,
    ToolSchema,
)
from core.oversight import AuditEntry, AuditEvent, Escalation, PendingApproval
from core.plans import StepView
from core.progress import ProgressEvent

# The model protocol (core/llm.py), human decisions (core/decisions.py) and what a run shows its
# humans (core/oversight.py) are re-exported: every contract can be imported from here.
__all__ = [
    "ApproveSignal",
    "AuditEntry",
    "AuditEvent",
    "CancelSignal",
    "ChatMessage",
    "DecideResult",
    "DecideUpdate",
    "DenySignal",
    "Escalation",
    "HumanReplySignal",
    "LlmRequest",
    "LlmResponse",
    "ModelSettings",
    "PendingApproval",
    "PriceQuote",
    "SummarizeRequest",
    "SummarizeResult",
    "TokenUsage",
    "ToolCall",
    "ToolSchema",
]

MAX_TASK_CHARS = 20_000


# ── tools ───────────────────────────────────────────────────────────────────


class ToolInput(Frozen):
    workflow_id: str
    call_id: str
    # workflow_id:call_id — the store's unique constraint makes a repeat return the first result.
    idempotency_key: str
    args: dict[str, Any]
    # Whom the run acts for (AgentRequest.user_id): a tool may check a record belongs to them.
    user_id: str = "anonymous"


class ToolOutput(Frozen):
    result: Any
    truncated: bool = False
    degraded: bool = False
    note: str | None = None


class ToolOutcome(StrEnum):
    OK = "ok"
    ERROR = "error"  # the tool ran and failed with a classified error
    REJECTED = "rejected"  # routing refused it: unknown tool or invalid arguments, no activity
    DENIED = "denied"  # a human denied it, or its approval timed out


class ToolCallRecord(Frozen):
    call_id: str
    turn: int
    tool: str
    args: dict[str, Any]
    outcome: ToolOutcome
    observation: str
    error_type: str | None = None
    latency_ms: float = 0.0
    approved_by: str | None = None
    # The structured result of a call that ran (what `observation` renders for the model), so no
    # code re-parses observation text; dropped from records that outlive their run when large.
    result: Any = None
    # Answered from a conversation's tool-result cache (workflows/tool_cache.py): no activity ran.
    cached: bool = False


class TraceStep(Frozen):
    """One reasoning step: what the model thought and asked for, and what it got back."""

    turn: int
    thought: str
    actions: tuple[str, ...] = ()
    tokens: TokenUsage = TokenUsage()
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    error: str | None = None


# ── the run ─────────────────────────────────────────────────────────────────


class AgentLimits(Frozen):
    # The turn budget of the loop; RunBudgets.max_turns follows it (see AgentRequest.run_budgets).
    max_turns: int = Field(8, ge=1, le=1000)
    approval_timeout_s: float = Field(24 * 3600, gt=0, le=30 * 24 * 3600)
    escalation_timeout_s: float = Field(72 * 3600, gt=0, le=30 * 24 * 3600)


class ForkOrigin(Frozen):
    """Where a forked run comes from: its parent run, and the turn whose end is its starting state."""

    parent_id: str = Field(min_length=1, max_length=1000)
    parent_run_id: str = ""
    at_turn: int = Field(ge=0)


class AgentRequest(Frozen):
    task: str = Field(min_length=1, max_length=MAX_TASK_CHARS)
    # Which of the worker's agents runs it (core/agent.py); None: the worker's first agent.
    agent: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,47}$")
    user_id: str = Field("anonymous", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@-]+$")
    # None (each of these): the agent's own default, from its definition.
    limits: AgentLimits | None = None
    model: ModelSettings = ModelSettings()
    budgets: RunBudgets | None = None
    context: ContextSettings | None = None
    # None: no per-user daily ledger for this run (the CLI sets one from AGENT_USER_DAILY_USD).
    user_budget: UserDayBudget | None = None
    # Set only by the workflow itself when it continues as new.
    carry: Carry | None = None
    # A version of the agent's instructions to pin (the channel then reads "pinned"); None: the
    # agent's channels choose, by workflow id (core/agent.py: Channels).
    prompt_version: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    # Set by `starter.py fork`: the run starts from `carry`, its parent's state at the end of a turn.
    fork: ForkOrigin | None = None

    @field_validator("task")
    @classmethod
    def _task_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("task is blank")
        return value


class RunState(StrEnum):
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    LOOP_DETECTED = "loop_detected"
    # Waiting for a human's reply; final only for runs recorded before escalations waited.
    ESCALATED = "escalated"
    ESCALATED_UNRESOLVED = "escalated_unresolved"
    DENIED = "denied"
    BUDGET_EXHAUSTED = "budget_exhausted"
    FAILED = "failed"
    CANCELLED = "cancelled"


# ESCALATED is left out: a live escalated run is waiting for a human, and a caller that stops watching
# it as "final" never sends the reply it waits for (the local-model test did, and the deadline fired).
FINAL_STATES = frozenset(
    {
        RunState.COMPLETED,
        RunState.ESCALATED_UNRESOLVED,
        RunState.LOOP_DETECTED,
        RunState.DENIED,
        RunState.BUDGET_EXHAUSTED,
        RunState.FAILED,
        RunState.CANCELLED,
    }
)


class RunStatus(Frozen):
    workflow_id: str
    agent: str = ""
    state: RunState
    turn: int
    max_turns: int
    pending: tuple[PendingApproval, ...] = ()
    usage: TokenUsage = TokenUsage()
    cost_usd: float = 0.0
    tool_calls: int = 0
    # What is running right now ("thinking (turn 2)", "get_transaction(pay_ABC123)"), for live progress.
    in_flight: tuple[str, ...] = ()
    escalation: Escalation | None = None
    steps: tuple[TraceStep, ...] = ()
    calls: tuple[ToolCallRecord, ...] = ()
    audit: tuple[AuditEntry, ...] = ()
    plan: tuple[StepView, ...] = ()  # plan mode: every round's steps with their states


class AgentResult(Frozen):
    workflow_id: str
    agent: str = ""
    status: RunState
    answer: str
    turns: int
    tool_calls: tuple[ToolCallRecord, ...] = ()
    steps: tuple[TraceStep, ...] = ()
    usage: TokenUsage = TokenUsage()
    cost_usd: float = 0.0
    prompt_version: str
    prompt_channel: str = ""
    stop_reason: str | None = None
    audit: tuple[AuditEntry, ...] = ()
    escalation: Escalation | None = None
    answered_by: str | None = None
    budget: ExhaustedBudget | None = None
    spent: BudgetUse | None = None
    loops: LoopCounters | None = None
    runs: int = 1  # workflow runs this result spans (continue-as-new)
    plan: tuple[StepView, ...] = ()  # plan mode: every round's steps with their states


class Carry(Frozen):
    """Everything a run hands to its continuation, so the result is as if it never restarted."""

    prompt_version: str = ""
    prompt_channel: str = ""

    messages: tuple[ChatMessage, ...]
    summary: str = ""
    turn: int
    turn_limit: int
    calls: tuple[ToolCallRecord, ...] = ()
    steps: tuple[TraceStep, ...] = ()
    audit: tuple[AuditEntry, ...] = ()
    blocked: dict[str, str] = Field(default_factory=dict)
    usage: TokenUsage = TokenUsage()
    cost_usd: float = 0.0
    spent: BudgetUse = BudgetUse()
    started_at: datetime
    ratio: float = 1.0
    served_model: str | None = None
    loop: LoopState = LoopState()
    critiqued: bool = False
    escalations: int = 0
    calls_at_escalation: int = 0
    runs: int = 1
    # The newest progress events and the next number: a follower's cursor stays valid across runs.
    progress: tuple[ProgressEvent, ...] = ()
    progress_next_seq: int = 0
    # The run's workflow stream (workflows/live.py): its newest items, offsets and publishers go on.
    stream: WorkflowStreamState | None = None
    # A fork's calls of its last carried turn that were waiting for approval: asked again first.
    resume_calls: tuple[ToolCall, ...] = ()


class ProgressPage(Frozen):
    """The `progress` query's answer: step events from a cursor on, and what a follower acts upon."""

    events: tuple[ProgressEvent, ...] = ()
    next_seq: int = 0
    run: int = 1  # which run of a continue-as-new chain answered
    state: RunState
    pending: tuple[PendingApproval, ...] = ()
    escalation: Escalation | None = None


AgentRequest.model_rebuild()
