"""The plan arm's model meets the same seeded faults as the ReAct arms, on its planning replies."""

from __future__ import annotations

import json
from typing import Any

from bench.faults import FaultPlan, FaultyModel, hallucinated_names
from bench.plan_arm import BENCH_PLAN, FaultyPlanner
from bench.report import TaskRecord, failure_cause
from bench.tasks import BenchPolicy, make_task
from workflows import prompts

TASK = make_task(42, 3)


def ask(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "s"},
        {"role": "user", "content": TASK.prompt},
        {"role": "user", "content": prompts.PLAN_REQUEST.format(max_steps=8, tools="-")},
        *extra,
    ]


def first_step(content: str) -> dict[str, Any]:
    step: dict[str, Any] = json.loads(content)["steps"][0]
    return step


def test_planning_replies_are_corrupted_exactly_when_the_react_model_would_be() -> None:
    for rate in (0.0, 0.28, 1.0):
        plan = FaultPlan(seed=42, hallucination_rate=rate, malformed_rate=0.0)
        planner, react = FaultyPlanner(plan), FaultyModel(BenchPolicy(), plan)
        for task_id in range(1, 40):
            task = make_task(42, task_id)
            messages = [
                {"role": "user", "content": task.prompt},
                {"role": "user", "content": prompts.PLAN_MARKER},
            ]
            step = first_step(planner.reply(messages, set()).content)
            call = react.reply([{"role": "user", "content": task.prompt}], set()).tool_calls[0]
            assert step["tool"] == call.name  # hallucinated, or not, alike
    clean = FaultyPlanner(FaultPlan(hallucination_rate=0.0, malformed_rate=0.0))
    assert first_step(clean.reply(ask(), set()).content)["tool"] in {"web_search", "calculate", "summarise"}


def test_told_of_its_mistake_it_plans_the_intended_call_on_the_next_turn() -> None:
    plan = FaultPlan(seed=42, hallucination_rate=1.0, malformed_rate=0.0)
    planner = FaultyPlanner(plan)
    wrong = first_step(planner.reply(ask(), set()).content)["tool"]
    intended = BenchPolicy().reply([{"role": "user", "content": TASK.prompt}], set()).tool_calls[0].name
    assert wrong in hallucinated_names(intended)
    fixed = FaultyPlanner(FaultPlan(seed=42, hallucination_rate=0.0, malformed_rate=0.0))
    again = ask({"role": "assistant", "content": "{}"}, {"role": "user", "content": "refused"})
    assert first_step(fixed.reply(again, set()).content)["tool"] == intended
    assert BENCH_PLAN.mode == "plan"


def record(**fields: Any) -> TaskRecord:
    base: dict[str, Any] = {"agent": "plan", "hallucination_rate": 0.28, "task_id": 1, "kind": "search"}
    base |= {"success": False, "status": "completed", "steps": 2, "latency_ms": 1.0, "tokens": 1}
    return TaskRecord(**(base | fields))


def test_every_failure_has_a_cause_saying_whether_a_retry_could_fix_it() -> None:
    answer = "The run stopped before any step ran: the plan was refused twice (unknown_tool)."
    refused = record(status="failed", failure_reason="failed", answer=answer)
    cause, could = failure_cause(refused)
    assert "refused twice (unknown_tool)" in cause and could is False
    assert failure_cause(record(failure_reason="tool failed: DependencyDownError"))[1] is True
    assert failure_cause(record(failure_reason="tool failed: InvalidInputError"))[1] is False
    assert failure_cause(record(failure_reason="wrong answer"))[1] is False
