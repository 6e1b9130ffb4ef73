"""Pydantic models for every workflow and activity input and output."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator

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
from core.progress import ProgressEvent

MAX_TASK_CHARS = 20_000


# ── model protocol ──────────────────────────────────────────────────────────


class ToolCall(Frozen):
    """A tool call as proposed by the model; ids are rewritten by the workflow to `t<turn>-<n>`."""

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    # Set when the model's arguments were not a JSON object; routing turns it into an observation.
    arguments_error: str | None = None


class ChatMessage(Frozen):
    role: Literal["system", "user", "assistant", "tool"]
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


class ToolSchema(Frozen):
    """What the model sees of a tool: OpenAI `function` shape."""

    name: str
    description: str
    parameters: dict[str, Any]


class ModelSettings(Frozen):
    """Sampling settings; which provider and endpoint is worker config, never workflow input."""

    model: str | None = Field(None, max_length=200, description="None: the worker's LLM_MODEL")
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_output_tokens: int = Field(384, ge=16, le=8192)
    seed: int = 7


class TokenUsage(Frozen):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class PriceQuote(Frozen):
    """The price a model call was charged at, recorded with its reply: a run's cost is reproducible from
    its history alone, whatever the worker's price list says later."""

    input_per_mtok: float = Field(ge=0.0, le=1000.0, description="USD per million prompt tokens")
    output_per_mtok: float = Field(ge=0.0, le=1000.0, description="USD per million completion tokens")
    source: str = Field(max_length=100, description="LLM_PRICE, genai-prices <version>, or table <version>")


class LlmRequest(Frozen):
    workflow_id: str
    turn: int
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolSchema, ...] = ()
    settings: ModelSettings = ModelSettings()
    prompt_version: str
    # The static part of the prompt by reference, so it is not stored again in history on every turn:
    # the worker puts back the toolset's schemas and the system prompt of `prompt_version` before the
    # provider sees the request (activities/llm/expand.py). An older worker refuses these fields.
    toolset: str | None = None
    system_by_version: bool = False
    # The run's own price (RunBudgets.price) for a model the worker cannot price; None: the worker's.
    price: PriceQuote | None = None


class LlmResponse(Frozen):
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: TokenUsage = TokenUsage()
    model: str = ""
    finish_reason: str | None = None
    # Set when the reply tried to call a tool but could not be parsed; the model is told.
    parse_error: str | None = None
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    # None only in replies recorded before prices travelled with them.
    price: PriceQuote | None = None
    # Set when the reply was refused whole (too large to carry): the model is told why, nothing else kept.
    rejected: str | None = None


# ── tools ───────────────────────────────────────────────────────────────────


class ToolInput(Frozen):
    workflow_id: str
    call_id: str
    # workflow_id:call_id — the store's unique constraint makes a repeat return the first result.
    idempotency_key: str
    args: dict[str, Any]


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


class AgentRequest(Frozen):
    task: str = Field(min_length=1, max_length=MAX_TASK_CHARS)
    user_id: str = Field("anonymous", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@-]+$")
    limits: AgentLimits = AgentLimits()
    model: ModelSettings = ModelSettings()
    # Which of the deployment's toolsets the run may use (activities/toolsets.py).
    toolset: str = Field("support", min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$")
    budgets: RunBudgets | None = None
    context: ContextSettings = ContextSettings()
    # None: no per-user daily ledger for this run (the CLI sets one from AGENT_USER_DAILY_USD).
    user_budget: UserDayBudget | None = None
    # Set only by the workflow itself when it continues as new.
    carry: Carry | None = None

    def run_budgets(self) -> RunBudgets:
        """The run's budgets; the turn budget always comes from `limits.max_turns`."""
        return (self.budgets or RunBudgets()).model_copy(update={"max_turns": self.limits.max_turns})

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
    trigger: str  # model | approval_timeout | repeated_failure | customer_request | loop | budget
    reason: str
    ticket_id: str | None = None
    since: datetime
    deadline: datetime


class RunStatus(Frozen):
    workflow_id: str
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


class AgentResult(Frozen):
    workflow_id: str
    status: RunState
    answer: str
    turns: int
    tool_calls: tuple[ToolCallRecord, ...] = ()
    steps: tuple[TraceStep, ...] = ()
    usage: TokenUsage = TokenUsage()
    cost_usd: float = 0.0
    prompt_version: str
    stop_reason: str | None = None
    audit: tuple[AuditEntry, ...] = ()
    escalation: Escalation | None = None
    answered_by: str | None = None
    budget: ExhaustedBudget | None = None
    spent: BudgetUse | None = None
    loops: LoopCounters | None = None
    runs: int = 1  # workflow runs this result spans (continue-as-new)


# ── signals ─────────────────────────────────────────────────────────────────


class ApproveSignal(Frozen):
    call_id: str = Field(min_length=1, max_length=64)
    approver: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(None, max_length=4000)
    args_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class DenySignal(Frozen):
    call_id: str = Field(min_length=1, max_length=64)
    approver: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1, max_length=4000)


class CancelSignal(Frozen):
    by: str = Field(min_length=1, max_length=128)
    reason: str = Field("cancelled by operator", max_length=4000)


class HumanReplySignal(Frozen):
    responder: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=20_000)
    # False: the reply is the final answer. True: it is guidance and the loop resumes.
    resume: bool = False


class DecideUpdate(Frozen):
    """The synchronous form of approve/deny for clients that need an immediate yes or no."""

    call_id: str = Field(min_length=1, max_length=64)
    approver: str = Field(min_length=1, max_length=128)
    verdict: Literal["approve", "deny"]
    reason: str | None = Field(None, max_length=4000)
    args_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class DecideResult(Frozen):
    accepted: bool
    call_id: str
    verdict: Literal["approve", "deny"]


class Carry(Frozen):
    """Everything a run hands to its continuation, so the result is as if it never restarted."""

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


class ProgressPage(Frozen):
    """The `progress` query's answer: step events from a cursor on, and what a follower acts upon."""

    events: tuple[ProgressEvent, ...] = ()
    next_seq: int = 0
    run: int = 1  # which run of a continue-as-new chain answered
    state: RunState
    pending: tuple[PendingApproval, ...] = ()
    escalation: Escalation | None = None


AgentRequest.model_rebuild()
