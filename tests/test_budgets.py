"""Run budgets: bad input refused at the boundary, prices never silently zero, the overrun guarantee."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.errors import InvalidInputError
from core.guardrails import BudgetUse, PriceOverride, RunBudgets, UserDayBudget, invalid_input
from core.models import TokenUsage
from core.pricing import CEILING_PRICE, ModelPrice, cost_at, price_of
from workflows.budgets import (
    CallEstimate,
    actual_cost,
    check_before_call,
    check_tool_calls,
    estimate_call,
    exhausted_answer,
    record_call,
    record_tool_calls,
    remaining_s,
    resolve_price,
)

GPT4O = ModelPrice(2.50, 10.00)


@pytest.mark.parametrize(
    "bad",
    [
        {"max_turns": 10**9},
        {"max_turns": 0},
        {"max_tool_calls": -1},
        {"max_tokens": 10},
        {"max_cost_usd": -1},
        {"max_cost_usd": 0},
        {"max_cost_usd": float("nan")},
        {"max_cost_usd": float("inf")},
        {"deadline_s": 0},
        {"deadline_s": 10**9},
        {"on_exhausted": "explode"},
        {"surprise": 1},
    ],
)
def test_absurd_budgets_are_refused_with_a_clear_error(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as caught:
        RunBudgets.model_validate(bad)
    err = invalid_input(caught.value)
    assert isinstance(err, InvalidInputError)
    assert next(iter(bad)) in err.message and "RunBudgets" in err.message


def test_defaults_and_user_day_bounds() -> None:
    assert RunBudgets().max_turns == 8 and RunBudgets().on_exhausted == "stop"
    with pytest.raises(ValidationError):
        UserDayBudget(max_cost_usd=-5)
    with pytest.raises(ValidationError):
        PriceOverride(input_per_mtok=-1, output_per_mtok=1)


def test_the_workflow_estimates_any_model_and_never_refuses_one() -> None:
    """Refusing a model nobody can price is the worker's job (activities/llm/prices.py); the workflow
    only estimates, at the ceiling for a model its table does not know, until a reply names its price."""
    assert resolve_price("my-fancy-model") == CEILING_PRICE
    assert resolve_price("my-fancy-model", PriceOverride(input_per_mtok=1, output_per_mtok=2)) == ModelPrice(
        1, 2
    )
    assert resolve_price("gpt-4o-2024-08-06") == GPT4O
    assert resolve_price("scripted") == ModelPrice(0.0, 0.0)
    assert resolve_price("/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf") == ModelPrice(0.0, 0.0)
    assert resolve_price(None) == CEILING_PRICE  # worker default: estimate high until the reply names it


def test_estimate_and_actual_cost_agree_with_the_price_table() -> None:
    est = estimate_call(1000, 384, GPT4O)
    assert est == CallEstimate(1384, (1000 * 2.5 + 384 * 10.0) / 1e6)
    usage = TokenUsage(prompt_tokens=900, completion_tokens=100)
    assert actual_cost(GPT4O, usage) == cost_at(price_of("gpt-4o") or CEILING_PRICE, usage) == 0.00325


def test_each_budget_is_named_when_hit() -> None:
    budgets = RunBudgets(
        max_turns=2, max_tokens=2000, max_cost_usd=0.01, deadline_s=60, on_exhausted="escalate"
    )
    small = CallEstimate(100, 0.001)
    assert check_before_call(budgets, BudgetUse(), small, 0) is None
    cases = [
        (BudgetUse(), small, 60.0, "deadline"),
        (BudgetUse(turns=2), small, 0.0, "max_turns"),
        (BudgetUse(prompt_tokens=1901), small, 0.0, "max_tokens"),
        (BudgetUse(cost_usd=0.0095), small, 0.0, "max_cost_usd"),
    ]
    for used, est, elapsed, which in cases:
        hit = check_before_call(budgets, used, est, elapsed)
        assert hit is not None and hit.which == which and hit.escalate
        assert which in hit.message
    assert check_tool_calls(budgets, BudgetUse(tool_calls=23), 1) is None
    hit = check_tool_calls(budgets, BudgetUse(tool_calls=23), 2)
    assert hit is not None and hit.which == "max_tool_calls"
    assert exhausted_answer(hit, "Found pay_1.").endswith("Found pay_1.")
    assert remaining_s(budgets, 45) == 15 and remaining_s(budgets, 99) == 0


def test_recording_accumulates() -> None:
    used = record_call(BudgetUse(), TokenUsage(prompt_tokens=10, completion_tokens=5), 0.5)
    used = record_call(used, TokenUsage(prompt_tokens=1, completion_tokens=1), 0.25, turn=False)
    used = record_tool_calls(used, 3)
    assert used == BudgetUse(turns=1, tool_calls=3, prompt_tokens=11, completion_tokens=6, cost_usd=0.75)


calls = st.lists(
    st.tuples(
        st.integers(0, 20_000),  # the prompt estimate
        st.floats(0.5, 2.0),  # how far off the estimate is (reported / estimated)
        st.integers(0, 1024),  # completion tokens, never above the cap
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    calls=calls,
    max_cost=st.floats(0.001, 2.0),
    max_tokens=st.integers(1000, 200_000),
    max_turns=st.integers(1, 100),
)
def test_a_run_never_exceeds_a_budget_by_more_than_one_calls_estimate_error(
    calls: list[tuple[int, float, int]], max_cost: float, max_tokens: int, max_turns: int
) -> None:
    budgets = RunBudgets(max_turns=max_turns, max_tokens=max_tokens, max_cost_usd=max_cost)
    used, cap = BudgetUse(), 1024
    last_error_tokens, last_error_usd = 0, 0.0
    for prompt_estimate, skew, completion in calls:
        est = estimate_call(prompt_estimate, cap, GPT4O)
        if check_before_call(budgets, used, est, 0.0) is not None:
            break
        usage = TokenUsage(prompt_tokens=int(prompt_estimate * skew), completion_tokens=min(completion, cap))
        cost = actual_cost(GPT4O, usage)
        last_error_tokens, last_error_usd = usage.total - est.tokens, cost - est.usd
        used = record_call(used, usage, cost)
    assert used.turns <= budgets.max_turns
    assert used.tokens <= budgets.max_tokens + max(0, last_error_tokens)
    assert used.cost_usd <= budgets.max_cost_usd + max(0.0, last_error_usd) + 1e-9
