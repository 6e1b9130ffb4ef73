"""Guardrail contracts: run budgets, the per-user daily budget, loop counters and context settings.

Bounds refuse absurd values at the boundary (`max_turns=10**9`, `max_cost_usd=-1`), so a run can never
start with a budget that means "unlimited" or "already spent".
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import InvalidInputError

WEEK_S = 7 * 24 * 3600
Strategy = Literal["head", "head_tail", "records"]
BudgetName = Literal["max_turns", "max_tool_calls", "max_tokens", "max_cost_usd", "deadline"]


class Frozen(BaseModel):
    # NaN and infinity are never a budget: they compare false with every bound.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class PriceOverride(Frozen):
    """An explicit price for a model the table does not know (USD per million tokens)."""

    input_per_mtok: float = Field(ge=0.0, le=1000.0)
    output_per_mtok: float = Field(ge=0.0, le=1000.0)


class RunBudgets(Frozen):
    """What one run may spend; checked before every model call (workflows/budgets.py)."""

    max_turns: int = Field(8, ge=1, le=1000, description="model calls of the ReAct loop")
    max_tool_calls: int = Field(24, ge=1, le=5000)
    max_tokens: int = Field(200_000, ge=1000, le=5_000_000, description="prompt + completion, all calls")
    max_cost_usd: float = Field(1.0, gt=0.0, le=100.0)
    # Long enough for the human waits (approval 24 h, escalation 72 h), which have their own deadlines.
    deadline_s: float = Field(WEEK_S, gt=0.0, le=WEEK_S, description="wall clock from the run's start")
    on_exhausted: Literal["stop", "escalate"] = "stop"
    # Required when the model is not in core/pricing.py's table, so cost is never silently zero.
    price: PriceOverride | None = None


class UserDayBudget(Frozen):
    """What one user may spend across all runs of one calendar day (UTC)."""

    max_cost_usd: float = Field(5.0, gt=0.0, le=10_000.0)
    max_tokens: int = Field(2_000_000, ge=1000, le=500_000_000)


class BudgetUse(Frozen):
    """What a run has spent so far; carried across continue-as-new."""

    turns: int = Field(0, ge=0)
    tool_calls: int = Field(0, ge=0)
    prompt_tokens: int = Field(0, ge=0)
    completion_tokens: int = Field(0, ge=0)
    cost_usd: float = Field(0.0, ge=0.0)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ExhaustedBudget(Frozen):
    """Which budget stopped the run, with the numbers a human needs to judge it."""

    which: BudgetName
    limit: float
    used: float
    estimate: float = 0.0
    escalate: bool = False
    message: str


class LoopCounters(Frozen):
    """How often each loop pattern fired in a run; reported in the result."""

    repeat_call: int = 0
    same_result: int = 0
    ping_pong: int = 0
    same_tool_streak: int = 0
    detections: int = 0
    stopped: bool = False


def _default_limits() -> dict[Strategy, int]:
    return {"head": 3000, "head_tail": 4000, "records": 4000}


class ContextSettings(Frozen):
    """How each prompt is bounded (workflows/context_window.py)."""

    max_context_tokens: int = Field(6000, ge=500, le=1_000_000)
    recent_turns: int = Field(4, ge=1, le=50, description="turns kept verbatim when older ones are folded")
    chars_per_token: float = Field(4.0, ge=1.0, le=10.0)
    message_overhead_tokens: int = Field(4, ge=0, le=64)
    summary_max_tokens: int = Field(512, ge=64, le=8192, description="room reserved for the summary")
    # Per-tool overrides of the strategy each ToolSpec declares (`truncation`).
    tool_strategies: dict[str, Strategy] = Field(default_factory=dict)
    default_strategy: Strategy = "head"
    max_observation_chars: dict[Strategy, int] = Field(default_factory=_default_limits)
    # Continue-as-new after this many turns, so one run's history stays small whatever the case length.
    turns_per_run: int = Field(40, ge=2, le=10_000)

    def strategy_for(self, tool: str, declared: Strategy | None = None) -> tuple[Strategy, int]:
        strategy = self.tool_strategies.get(tool) or declared or self.default_strategy
        return strategy, self.max_observation_chars.get(strategy, 3000)


def invalid_input(exc: ValidationError) -> InvalidInputError:
    """A pydantic refusal as one readable InvalidInputError: `max_turns=1000000000: must be ≤ 100`."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or exc.title
        value = error.get("input")
        shown = f"={value!r}" if not isinstance(value, dict) else ""
        parts.append(f"{where}{shown}: {error['msg']}")
    return InvalidInputError(f"invalid {exc.title}: " + "; ".join(parts), details={"errors": parts})


class LoopFields(BaseModel):
    """The loop detector's state; LoopDetector (workflows/loop_detect.py) adds the behaviour."""

    streak_n: int = Field(4, ge=2, le=100)
    memory: int = Field(64, ge=4, le=1000, description="distinct calls whose results are remembered")
    recent: list[str] = Field(default_factory=list)
    results: dict[str, str] = Field(default_factory=dict)
    digests: dict[str, str] = Field(default_factory=dict)
    streak_tool: str | None = None
    streak_count: int = 0
    streak_turn: int | None = None
    counters: LoopCounters = LoopCounters()


class LoopState(LoopFields):
    """A LoopDetector's state as carried across continue-as-new."""

    model_config = ConfigDict(frozen=True, extra="ignore")
