"""Judge one run against its case: every check that fails gives one plain reason."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from core.models import ToolCallRecord
from evals.cases import EvalCase, Expect


@dataclass
class Outcome:
    """What one eval run did, read from its result and from the agent's store."""

    case_id: str
    workflow_id: str
    status: str
    answer: str
    calls: tuple[ToolCallRecord, ...]
    turns: int
    cost_usd: float
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    rows: dict[str, int]  # table → rows created by this run
    decisions: list[str] = field(default_factory=list)  # "approve initiate_refund", in order
    problems: list[str] = field(default_factory=list)  # from the runner: unexpected approval, timeout


def judge(case: EvalCase, outcome: Outcome) -> list[str]:
    """The reasons the run fails its case; empty: it passes."""
    expect = case.expect
    reasons = list(outcome.problems)
    if expect.status is not None and outcome.status != expect.status:
        reasons.append(f"status {outcome.status}, expected {expect.status}")
    reasons += _trajectory(expect, outcome.calls)
    reasons += _answer(expect, outcome.answer)
    reasons += _side_effects(expect, outcome.rows)
    if expect.limits.max_turns is not None and outcome.turns > expect.limits.max_turns:
        reasons.append(f"{outcome.turns} turns, at most {expect.limits.max_turns} expected")
    if expect.limits.max_cost_usd is not None and outcome.cost_usd > expect.limits.max_cost_usd:
        reasons.append(f"cost {outcome.cost_usd:.6f} USD above {expect.limits.max_cost_usd}")
    unused = case.approvals[len(outcome.decisions) :]
    if unused:
        reasons.append(f"{len(unused)} approval decision(s) never asked for ({unused[0].tool} first)")
    return reasons


def _trajectory(expect: Expect, calls: tuple[ToolCallRecord, ...]) -> list[str]:
    made = [c.tool for c in calls]
    reasons = [f"{tool} was not called" for tool in expect.tools.called if tool not in made]
    reasons += [f"{tool} was called" for tool in expect.tools.not_called if tool in made]
    for check in expect.tools.args:
        candidates = [c.args for c in calls if c.tool == check.tool]
        if not any(_args_match(args, check.with_) for args in candidates):
            seen = "; ".join(str(a) for a in candidates) or "no call"
            reasons.append(f"no {check.tool} call with {check.with_} (got {seen})")
    return reasons


def _args_match(args: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(key in args and _same(args[key], value) for key, value in wanted.items())


def _same(got: Any, wanted: Any) -> bool:
    """Equal, or the same number however written ("49.99" and 49.99), or the same text ignoring case."""
    if got == wanted:
        return True
    number_got, number_wanted = _number(got), _number(wanted)
    if number_got is not None and number_wanted is not None:
        return number_got == number_wanted
    return str(got).strip().lower() == str(wanted).strip().lower()


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return None


def _answer(expect: Expect, answer: str) -> list[str]:
    lowered = answer.lower()
    reasons = [f"answer lacks {text!r}" for text in expect.answer.contains if text.lower() not in lowered]
    reasons += [f"answer contains {text!r}" for text in expect.answer.not_contains if text.lower() in lowered]
    for number in expect.answer.numbers:
        # A whole number: "49.99" is not found inside "149.99" or "49.999".
        if not re.search(rf"(?<![\d.]){re.escape(number)}(?![\d]|\.\d)", answer):
            reasons.append(f"answer lacks the number {number}")
    return reasons


def _side_effects(expect: Expect, rows: dict[str, int]) -> list[str]:
    reasons = []
    for table in sorted(set(rows) | set(expect.side_effects)):
        want, got = expect.side_effects.get(table, 0), rows.get(table, 0)
        if want != got:
            reasons.append(f"{got} {table} row(s) created, expected {want}")
    return reasons
