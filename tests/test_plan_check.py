"""A plan is checked in code before anything runs: every refusal is typed and names its step."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.plans import MissingField, Plan, PlanIssue, PlanPolicy, references, resolve_references
from tests.plan_agent import planning_agent, step
from workflows.plan_check import check, dependencies, find_cycle, parse
from workflows.plan_names import only_fit, resolve_names

REGISTRY = planning_agent().registry


def plan_of(*steps: dict[str, Any]) -> Plan:
    parsed = parse(json.dumps({"steps": list(steps)}))
    assert isinstance(parsed, Plan)
    return parsed


def kinds(issues: list[PlanIssue]) -> list[str]:
    return [i.kind for i in issues]


def test_a_valid_plan_with_a_reference_passes_and_depends_on_what_it_refers_to() -> None:
    plan = plan_of(
        step("s1", "find_account", owner="Ada"),
        step("s2", "read_notes", topic="closing"),
        step("s3", "close_account", account_id="$s1.account_id"),
    )
    assert check(plan, REGISTRY, max_steps=8) == []
    assert dependencies(plan.steps[2]) == ("s1",)
    assert references(plan.steps[2].arguments) == [("s1", "account_id")]


def test_a_cycle_in_depends_on_is_refused_with_its_path() -> None:
    plan = plan_of(
        step("s1", "find_account", deps=("s3",), owner="Ada"),
        step("s2", "read_notes", deps=("s1",), topic="x"),
        step("s3", "read_notes", deps=("s2",), topic="y"),
    )
    issues = check(plan, REGISTRY, max_steps=8)
    assert kinds(issues) == ["cycle"]
    assert find_cycle(plan)[0] == find_cycle(plan)[-1]
    assert "s1" in issues[0].message and "s3" in issues[0].message


def test_a_reference_to_itself_is_a_cycle() -> None:
    plan = plan_of(step("s1", "close_account", account_id="$s1.closure_id"))
    assert "cycle" in kinds(check(plan, REGISTRY, max_steps=8))


def test_a_missing_step_and_a_missing_field_are_refused() -> None:
    plan = plan_of(
        step("s1", "find_account", owner="Ada"),
        step("s2", "close_account", account_id="$s9.account_id"),
        step("s3", "close_account", account_id="$s1.transaction_id"),
        step("s4", "read_notes", deps=("s7",), topic="x"),
    )
    issues = check(plan, REGISTRY, max_steps=8)
    assert sorted((i.kind, i.step) for i in issues) == [
        ("missing_field", "s3"), ("missing_step", "s2"), ("missing_step", "s4"),
    ]  # fmt: skip
    field = next(i for i in issues if i.kind == "missing_field")
    assert "account_id" in field.details["fields"]


def test_more_steps_than_the_budget_allows_is_refused() -> None:
    plan = plan_of(*(step(f"s{n}", "read_notes", topic=str(n)) for n in range(1, 5)))
    issues = check(plan, REGISTRY, max_steps=3)
    assert kinds(issues) == ["too_many_steps"] and issues[0].details == {"max_steps": 3}


def test_unknown_tool_names_the_closest_real_ones() -> None:
    issues = check(plan_of(step("s1", "findaccount", owner="Ada")), REGISTRY, max_steps=8)
    assert kinds(issues) == ["unknown_tool"]
    assert issues[0].details["closest"][0] == "find_account"


def test_arguments_failing_the_tool_model_are_refused_but_referenced_fields_wait() -> None:
    plan = plan_of(
        step("s1", "find_account", owner=["Ada"]),
        step("s2", "read_notes", topic="x", extra=1),
        step("s3", "close_account"),
    )
    issues = check(plan, REGISTRY, max_steps=8)
    assert kinds(issues) == ["invalid_arguments"] * 3
    assert [i.step for i in issues] == ["s1", "s2", "s3"]
    # Arguments that are not an object at all.
    raw = parse('{"steps": [{"id": "s1", "tool": "read_notes", "arguments": "{\\"topic\\": "}]}')
    assert isinstance(raw, Plan) and kinds(check(raw, REGISTRY, max_steps=8)) == ["invalid_arguments"]


def test_text_that_is_no_plan_is_one_typed_issue() -> None:
    for text in ("I will look it up.", '{"steps": [{"tool": "read_notes"}]}', '{"steps": 3}'):
        issue = parse(text)
        assert isinstance(issue, PlanIssue) and issue.kind == "unparseable"
    fenced = parse(
        '```json\n{"steps": [{"id": "s1", "tool": "read_notes", "arguments": {"topic": "a"}}]}\n```'
    )
    assert isinstance(fenced, Plan)


def test_duplicate_step_ids_are_refused() -> None:
    plan = plan_of(step("s1", "read_notes", topic="a"), step("s1", "read_notes", topic="b"))
    assert kinds(check(plan, REGISTRY, max_steps=8)) == ["duplicate_step"]


def test_references_resolve_to_the_earlier_result_or_name_the_missing_field() -> None:
    results = {"s1": {"account_id": "ACC-ADA", "hits": [{"id": "D1"}]}}
    value = {"a": "$s1.account_id", "b": ["$s1.hits.0.id", "plain"], "c": "cost $5.00"}
    assert resolve_references(value, results) == {"a": "ACC-ADA", "b": ["D1", "plain"], "c": "cost $5.00"}
    with pytest.raises(MissingField):
        resolve_references("$s1.nothing", results)


def test_a_plan_policy_out_of_range_is_refused_when_the_agent_is_defined() -> None:
    with pytest.raises(ValueError, match="max_steps"):
        PlanPolicy(max_steps=0)
    with pytest.raises(ValueError, match="replans"):
        PlanPolicy(replans=-1)
    with pytest.raises(ValueError, match="corrections"):
        PlanPolicy(corrections=6)


def test_a_misnamed_step_resolves_only_to_the_one_read_only_tool_its_arguments_fit() -> None:
    plan = plan_of(
        step("s1", "lookup", owner="Ada"),  # fits find_account only
        step("s2", "close", account_id="ACC-ADA"),  # fits close_account only: irreversible
        step("s3", "both", owner="Ada", topic="x"),  # fits two tools, or none
        step("s4", "nothing", name="Ada"),  # fits none
        step("s5", "read_notes", topic="x"),  # a real name is kept
    )
    resolved, names = resolve_names(plan, REGISTRY)
    assert [r.label() for r in names] == ["s1: lookup → find_account"]
    assert [s.tool for s in resolved.steps] == ["find_account", "close", "both", "nothing", "read_notes"]
    assert only_fit("not an object", REGISTRY) is None
