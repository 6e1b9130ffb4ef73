"""Run budgets as pure functions: price a call before it is made, refuse it if it would not fit.

The guarantee: `check_before_call` admits a call only if what was used so far plus that call's
estimate fits every budget. Completion tokens are estimated at `max_output_tokens`, which the provider
never exceeds, so the only estimate error is the prompt side. Spending is monotonic, hence a run ends
at most one call's estimate error (actual − estimate of the last admitted call) above any budget.
"""

from __future__ import annotations

from typing import NamedTuple

from core.guardrails import BudgetName, BudgetUse, ExhaustedBudget, PriceOverride, RunBudgets
from core.models import LlmResponse, PriceQuote, TokenUsage
from core.pricing import CEILING_PRICE, ModelPrice, cost_at, price_of


class CallEstimate(NamedTuple):
    """(tokens, usd) of one model call, estimated before it is made."""

    tokens: int
    usd: float


def resolve_price(model: str | None, override: PriceOverride | None = None) -> ModelPrice:
    """The price a run estimates its next call at, until a reply names the price it was charged.

    The worker decides prices (activities/llm/prices.py) and refuses a model it cannot price, so this
    never refuses: an explicit override wins, a model the table knows is estimated at its price, and
    any other (`None`, the worker's default, or a model only the worker's catalogue knows) at the
    table's ceiling. Each reply's quote (`LlmResponse.price`) then prices the run exactly.
    """
    if override is not None:
        return ModelPrice(override.input_per_mtok, override.output_per_mtok)
    return (price_of(model) if model is not None else None) or CEILING_PRICE


def price_of_reply(reply: LlmResponse, override: PriceOverride | None) -> ModelPrice | None:
    """What a reply was charged at: the run's override, else the quote it carries (None if it has none)."""
    if override is not None:
        return ModelPrice(override.input_per_mtok, override.output_per_mtok)
    quote = reply.price
    return ModelPrice(quote.input_per_mtok, quote.output_per_mtok) if quote is not None else None


def quote_of_override(override: PriceOverride | None) -> PriceQuote | None:
    """The run's own price as the worker charges it (LlmRequest.price), or None for the worker's."""
    if override is None:
        return None
    return PriceQuote(
        input_per_mtok=override.input_per_mtok,
        output_per_mtok=override.output_per_mtok,
        source="budgets.price",
    )


def estimate_call(prompt_tokens_estimate: int, max_output_tokens: int, price: ModelPrice) -> CallEstimate:
    """Upper-bound-style estimate: the prompt as estimated, the completion at its cap."""
    prompt, completion = max(0, prompt_tokens_estimate), max(0, max_output_tokens)
    usage = TokenUsage(prompt_tokens=prompt, completion_tokens=completion)
    return CallEstimate(prompt + completion, cost_at(price, usage))


def actual_cost(price: ModelPrice, usage: TokenUsage) -> float:
    """What a call cost at the run's resolved price (the provider's reported usage)."""
    return cost_at(price, usage)


def _exhausted(
    budgets: RunBudgets, which: BudgetName, limit: float, used: float, estimate: float, why: str
) -> ExhaustedBudget:
    return ExhaustedBudget(
        which=which,
        limit=limit,
        used=used,
        estimate=estimate,
        escalate=budgets.on_exhausted == "escalate",
        message=f"The {which} budget is spent: {why}.",
    )


def check_before_call(
    budgets: RunBudgets, used: BudgetUse, estimate: CallEstimate, now_elapsed_s: float
) -> ExhaustedBudget | None:
    """None when the next model call fits every budget; else which budget it would break."""
    if now_elapsed_s >= budgets.deadline_s:
        why = f"{now_elapsed_s:.0f}s elapsed of a {budgets.deadline_s:.0f}s deadline"
        return _exhausted(budgets, "deadline", budgets.deadline_s, now_elapsed_s, 0.0, why)
    if used.turns + 1 > budgets.max_turns:
        why = f"{used.turns} of {budgets.max_turns} turns used"
        return _exhausted(budgets, "max_turns", budgets.max_turns, used.turns, 1, why)
    if used.tokens + estimate.tokens > budgets.max_tokens:
        why = f"{used.tokens} tokens used + ~{estimate.tokens} for the next call > {budgets.max_tokens}"
        return _exhausted(budgets, "max_tokens", budgets.max_tokens, used.tokens, estimate.tokens, why)
    if used.cost_usd + estimate.usd > budgets.max_cost_usd:
        why = (
            f"${used.cost_usd:.4f} spent + ~${estimate.usd:.4f} for the next call "
            f"> ${budgets.max_cost_usd:.4f}"
        )
        return _exhausted(budgets, "max_cost_usd", budgets.max_cost_usd, used.cost_usd, estimate.usd, why)
    return None


def check_tool_calls(budgets: RunBudgets, used: BudgetUse, proposed: int) -> ExhaustedBudget | None:
    """None when `proposed` more tool calls fit; checked before any of a turn's calls is scheduled."""
    if used.tool_calls + proposed <= budgets.max_tool_calls:
        return None
    why = f"{used.tool_calls} tool calls made + {proposed} proposed > {budgets.max_tool_calls}"
    return _exhausted(budgets, "max_tool_calls", budgets.max_tool_calls, used.tool_calls, proposed, why)


def record_call(used: BudgetUse, usage: TokenUsage, cost_usd: float, *, turn: bool = True) -> BudgetUse:
    """Spending after one model call; `turn=False` for calls that are not a loop turn (summaries)."""
    return used.model_copy(
        update={
            "turns": used.turns + (1 if turn else 0),
            "prompt_tokens": used.prompt_tokens + usage.prompt_tokens,
            "completion_tokens": used.completion_tokens + usage.completion_tokens,
            "cost_usd": round(used.cost_usd + max(0.0, cost_usd), 10),
        }
    )


def record_tool_calls(used: BudgetUse, count: int) -> BudgetUse:
    return used.model_copy(update={"tool_calls": used.tool_calls + max(0, count)})


def remaining_s(budgets: RunBudgets, now_elapsed_s: float) -> float:
    """Seconds left before the deadline; use it to bound waits (approvals, human replies)."""
    return max(0.0, budgets.deadline_s - now_elapsed_s)


def exhausted_answer(exhausted: ExhaustedBudget, partial: str) -> str:
    """The run's answer when a budget ends it: which budget, then the findings so far."""
    return f"{exhausted.message} {partial}".strip()
