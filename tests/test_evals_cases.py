"""Eval case files: every shipped file loads, each demo agent has its 30 cases with the adversarial
ones, a malformed file is refused naming its file, line and field, and the checks catch what they must."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.models import ToolCallRecord, ToolOutcome
from evals.cases import CaseFileError, EvalCase, load_dir, load_file
from evals.checks import Outcome, judge
from evals.variants import cases_dir

# Per agent, the adversarial stories the issue names, by case id.
ADVERSARIAL = {
    "merchant_support": {
        "injection-refund-everything",
        "above-refundable-amount",
        "suspended-merchant-refund",
        "angry-merchant",
        "another-merchants-payment",
    },
    "shop": {
        "injection-approval-claimed",
        "more-than-the-order-is-worth",
        "angry-shopper",
        "another-customers-details",
    },
}


@pytest.mark.parametrize("agent", sorted(ADVERSARIAL))
def test_each_demo_agent_has_thirty_cases_with_the_adversarial_ones(agent: str) -> None:
    cases = load_dir(cases_dir(agent))
    assert len(cases) >= 30
    ids = {c.id for c in cases}
    assert ADVERSARIAL[agent] <= ids
    assert all(c.adversarial for c in cases if c.id in ADVERSARIAL[agent] - {"angry-merchant"})
    assert len({c.category for c in cases}) >= 3
    assert all(c.source.startswith(str(cases_dir(agent))) for c in cases)


def write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD_HEAD = "cases:\n  - id: one\n    task: hello\n"


def test_a_misspelt_field_names_the_file_the_line_and_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_HEAD + "    expect:\n      answer:\n        contain: [x]\n")
    with pytest.raises(CaseFileError) as caught:
        load_file(path)
    err = caught.value
    assert (err.path, err.line, err.field) == (path, 6, "cases.0.expect.answer.contain")
    assert str(path) in err.message and ":6:" in err.message


def test_a_wrong_type_points_at_its_value(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD_HEAD + "    max_turns: many\n")
    with pytest.raises(CaseFileError) as caught:
        load_file(path)
    assert (caught.value.line, caught.value.field) == (4, "cases.0.max_turns")


def test_a_missing_task_and_a_bad_decision_are_named(tmp_path: Path) -> None:
    with pytest.raises(CaseFileError) as caught:
        load_file(write(tmp_path, "cases:\n  - id: one\n"))
    assert caught.value.field == "cases.0.task" and caught.value.line == 2
    text = GOOD_HEAD + "    approvals:\n      - {tool: initiate_refund, decision: maybe}\n"
    with pytest.raises(CaseFileError) as caught:
        load_file(write(tmp_path, text))
    assert caught.value.field == "cases.0.approvals.0.decision" and caught.value.line == 5


def test_broken_yaml_gives_its_line(tmp_path: Path) -> None:
    with pytest.raises(CaseFileError) as caught:
        load_file(write(tmp_path, GOOD_HEAD + "    expect: {status: [unclosed\n"))
    assert caught.value.line >= 4 and caught.value.field == ""


def test_a_case_id_defined_twice_is_refused_with_both_places(tmp_path: Path) -> None:
    write(tmp_path, GOOD_HEAD, "a.yaml")
    write(tmp_path, "cases:\n  - id: two\n    task: x\n  - id: one\n    task: y\n", "b.yaml")
    with pytest.raises(CaseFileError) as caught:
        load_dir(tmp_path)
    assert caught.value.line == 4 and "a.yaml:2" in caught.value.message


def record(tool: str, **args: object) -> ToolCallRecord:
    ok = ToolOutcome.OK
    return ToolCallRecord(call_id="t1-1", turn=1, tool=tool, args=args, outcome=ok, observation="")


REFUND_124 = record("initiate_refund", transaction_id="pay_ABC124", amount="49.99")
REFUND_123 = record("initiate_refund", transaction_id="pay_ABC123", amount="49.99")


def outcome(**overrides: object) -> Outcome:
    base: dict[str, object] = {
        "case_id": "c",
        "workflow_id": "wf",
        "status": "completed",
        "answer": "Refund re_1 of 49.99 USD was issued for pay_ABC124.",
        "calls": (record("get_transaction"), REFUND_124),
        "turns": 3,
        "cost_usd": 0.0,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "latency_s": 0.1,
        "rows": {"refunds": 1},
        "decisions": ["approve initiate_refund"],
    }
    return Outcome(**{**base, **overrides})  # type: ignore[arg-type]


CASE = EvalCase.model_validate(
    {
        "id": "c",
        "task": "t",
        "approvals": [{"tool": "initiate_refund", "decision": "approve"}],
        "expect": {
            "status": "completed",
            "tools": {
                "called": ["initiate_refund"],
                "not_called": ["escalate_to_human"],
                "args": [
                    {"tool": "initiate_refund", "with": {"transaction_id": "pay_ABC124", "amount": 49.99}}
                ],
            },
            "answer": {"contains": ["re_1"], "not_contains": ["sorry"], "numbers": ["49.99"]},
            "side_effects": {"refunds": 1},
            "limits": {"max_turns": 3, "max_cost_usd": 0.01},
        },
    }
)


def test_a_run_that_does_what_the_case_says_passes() -> None:
    assert judge(CASE, outcome()) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "denied"}, "status denied, expected completed"),
        ({"calls": (record("get_transaction"),)}, "initiate_refund was not called"),
        ({"calls": (*outcome().calls, record("escalate_to_human"))}, "escalate_to_human was called"),
        ({"calls": (REFUND_123,)}, "no initiate_refund call"),
        ({"answer": "Refund re_1 of 149.99 USD, sorry."}, "answer lacks the number 49.99"),
        ({"answer": "Refund re_1 of 49.99 USD, sorry."}, "answer contains 'sorry'"),
        ({"rows": {"refunds": 2}}, "2 refunds row(s) created, expected 1"),
        ({"rows": {"refunds": 1, "tickets": 1}}, "1 tickets row(s) created, expected 0"),
        ({"turns": 4}, "4 turns, at most 3 expected"),
        ({"cost_usd": 0.5}, "cost 0.500000 USD above 0.01"),
        ({"decisions": []}, "1 approval decision(s) never asked for"),
    ],
)
def test_each_check_fails_a_run_that_breaks_it(change: dict[str, object], reason: str) -> None:
    reasons = judge(CASE, outcome(**change))
    assert any(r.startswith(reason) for r in reasons), reasons
