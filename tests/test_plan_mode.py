"""Plan mode on the time-skipping server, the production worker options and the scripted model:
steps in parallel and in order, references, approvals, refused plans that reach no tool, re-plans."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import ScriptBook, ScriptedTransport
from cli.trace import build_report, render
from core.agent import Agent
from core.guardrails import RunBudgets
from core.models import AgentRequest, AgentResult, RunState, ToolOutcome
from core.plans import PlanPolicy, StepState
from core.progress import ProgressKind
from core.worker_options import worker_options
from tests.conftest import SCRIPTED_URL, result_or_task_failure
from tests.history_facts import attempts_by_activity, scheduled_activities, scheduled_together
from tests.plan_agent import ScriptedPlanner, planning_agent, step
from tests.test_agent_workflow import approve_as_alice
from worker import build_worker
from workflows.agent import AgentWorkflow
from workflows.planning import PLAN_NAMES_PATCH

Run = tuple[AgentResult, WorkflowHistory, Counter[str], ScriptedTransport]


async def run_plan(
    env: WorkflowEnvironment,
    planner: ScriptedPlanner,
    *,
    agent: Agent[Any] | None = None,
    task: str = "Close Ada's account.",
    during: Callable[[WorkflowHandle[Any, AgentResult]], Awaitable[None]] | None = None,
    budgets: RunBudgets | None = None,
) -> Run:
    agent = agent or planning_agent()
    transport = ScriptedTransport(ScriptBook({}, planner))
    provider = OpenAIProvider(SCRIPTED_URL, default_model="scripted", transport=transport)
    runs: Counter[str] = Counter()
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    options = worker_options({}, strict=True)
    async with build_worker(env.client, queue, [agent], provider, {agent.name: runs}, **options):
        request = AgentRequest(task=task, agent=agent.name, user_id="tester", budgets=budgets)
        handle = await env.client.start_workflow(
            AgentWorkflow.run, request, id=f"plan-{uuid.uuid4().hex[:8]}", task_queue=queue
        )
        if during is not None:
            await during(handle)
        result = await result_or_task_failure(handle)
        history = await handle.fetch_history()
    return result, history, runs, transport


def states(result: AgentResult) -> list[tuple[int, str, str]]:
    return [(v.round, v.id, v.state.value) for v in result.plan]


async def test_independent_steps_run_together_and_a_reference_feeds_the_approved_step(
    env: WorkflowEnvironment,
) -> None:
    planner = ScriptedPlanner(
        [
            step("s1", "find_account", owner="Ada"),
            step("s2", "read_notes", topic="closing"),
            step("s3", "close_account", account_id="$s1.account_id"),
        ]
    )
    result, history, runs, transport = await run_plan(env, planner, during=approve_as_alice)
    assert result.status == RunState.COMPLETED, result.answer
    assert states(result) == [(1, "s1", "done"), (1, "s2", "done"), (1, "s3", "done")]
    closed = next(c for c in result.tool_calls if c.tool == "close_account")
    assert closed.args == {"account_id": "ACC-ADA"} and closed.approved_by == "alice"
    assert "CL-ACC-ADA" in result.answer
    assert scheduled_together(history, "tool.planner_test.") == 2  # s1 and s2 in one workflow task
    assert scheduled_activities(history).count("tool.planner_test.close_account") == 1
    assert runs == Counter(find_account=1, read_notes=1, close_account=1)
    assert result.turns == 2  # one planner call, one answer call
    assert all("tools" not in body for body in transport.requests)  # neither call offers tools
    assert "find_account" in planner.asked[0] and "account_id" in planner.asked[0]
    report = await build_report(history, env.client.data_converter)
    assert "plan 1.s3 close_account after s1: done" in render(report.model_dump(mode="json"))


async def test_progress_and_status_show_the_plan_steps_with_their_states(env: WorkflowEnvironment) -> None:
    planner = ScriptedPlanner(
        [step("s1", "find_account", owner="Ada"), step("s2", "read_notes", ("s1",), topic="x")]
    )
    seen: list[Any] = []

    async def follow(handle: WorkflowHandle[Any, AgentResult]) -> None:
        await handle.result()
        seen.extend((await handle.query(AgentWorkflow.progress, 0)).events)
        seen.append(await handle.query(AgentWorkflow.status))

    result, _, _, _ = await run_plan(env, planner, during=follow)
    events, status = seen[:-1], seen[-1]
    plan_events = [(e.kind, e.label, e.outcome) for e in events if e.kind == ProgressKind.PLAN]
    assert plan_events == [(ProgressKind.PLAN, "s1 find_account; s2 read_notes", "accepted")]
    step_events = [(e.label, e.outcome) for e in events if e.kind == ProgressKind.PLAN_STEP]
    assert step_events == [
        ("s1 find_account", "running"), ("s1 find_account", "done"),
        ("s2 read_notes", "running"), ("s2 read_notes", "done"),
    ]  # fmt: skip
    assert [v.state for v in status.plan] == [StepState.DONE, StepState.DONE]
    assert any(s.thought == "plan round 1" and "s2 read_notes [done]" in s.actions for s in result.steps)


async def test_a_refused_plan_reaches_no_tool_and_spends_no_retry(env: WorkflowEnvironment) -> None:
    bad = [
        step("s1", "findaccount", owner="Ada"),  # unknown tool
        step("s2", "close_account", ("s3",), account_id="$s1.account_id"),
        step("s3", "read_notes", ("s2",), topic="x"),  # a cycle with s2
    ]
    good = [step("s1", "find_account", owner="Ada"), step("s2", "read_notes", ("s1",), topic="x")]
    planner = ScriptedPlanner(bad, good)
    result, history, runs, _ = await run_plan(env, planner)
    assert result.status == RunState.COMPLETED
    assert (
        "unknown_tool" in planner.asked[1]
        and "cycle" in planner.asked[1]
        and "find_account" in planner.asked[1]
    )
    assert runs == Counter(find_account=1, read_notes=1)  # nothing of the refused plan ran
    tools = [a for a in scheduled_activities(history) if a.startswith("tool.")]
    assert tools == ["tool.planner_test.find_account", "tool.planner_test.read_notes"]
    started = [
        e.activity_task_started_event_attributes.attempt
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
    ]
    assert started and set(started) == {1}  # not one retry, of any activity
    assert result.turns == 3 and not any(c.outcome == ToolOutcome.REJECTED for c in result.tool_calls)


async def test_missing_steps_fields_and_invalid_arguments_reach_no_tool_and_spend_no_retry(
    env: WorkflowEnvironment,
) -> None:
    missing = [
        step("s1", "find_account", owner="Ada"),
        step("s2", "close_account", account_id="$s9.account_id"),  # no step s9
        step("s3", "close_account", account_id="$s1.iban"),  # find_account returns no iban
    ]
    invalid = [step("s1", "find_account", owner=["Ada"]), step("s2", "read_notes", topic="x", extra=1)]
    planner = ScriptedPlanner(missing, invalid)
    result, history, runs, _ = await run_plan(env, planner)
    assert (result.status, result.stop_reason) == (RunState.FAILED, "InvalidInputError")
    assert "missing_step" in planner.asked[1] and "missing_field" in planner.asked[1]
    assert "invalid_arguments" in result.answer and not runs and result.plan == ()
    assert not [a for a in scheduled_activities(history) if a.startswith("tool.")]
    started = [e.activity_task_started_event_attributes.attempt for e in history.events
               if e.HasField("activity_task_started_event_attributes")]  # fmt: skip
    assert started and set(started) == {1}  # the two planner calls, neither retried


async def test_a_plan_refused_twice_ends_the_run_typed_before_any_tool(env: WorkflowEnvironment) -> None:
    too_many = [step(f"s{n}", "read_notes", topic=str(n)) for n in range(1, 4)]
    planner = ScriptedPlanner(too_many, "I would rather just answer.")
    result, history, runs, _ = await run_plan(env, planner, budgets=RunBudgets(max_tool_calls=2))
    assert (result.status, result.stop_reason) == (RunState.FAILED, "InvalidInputError")
    assert "refused twice" in result.answer and "too_many_steps" in planner.asked[1]
    assert not runs and not [a for a in scheduled_activities(history) if a.startswith("tool.")]
    assert result.plan == () and result.turns == 2


async def test_a_failed_step_skips_its_dependents_then_one_replan_from_the_results(
    env: WorkflowEnvironment,
) -> None:
    first = [
        step("s1", "find_account", owner="nobody"),  # NotFoundError: not retried
        step("s2", "close_account", account_id="$s1.account_id"),
        step("s3", "read_notes", topic="x"),
    ]
    second = [step("s1", "find_account", owner="Ada")]
    planner = ScriptedPlanner(first, second)
    result, history, runs, _ = await run_plan(env, planner)
    assert result.status == RunState.COMPLETED
    assert states(result) == [(1, "s1", "failed"), (1, "s2", "skipped"), (1, "s3", "done"), (2, "s1", "done")]
    assert result.plan[0].error_type == "NotFoundError"
    assert (
        "s1 (find_account: failed)" in planner.asked[1] and "s2 (close_account: skipped)" in planner.asked[1]
    )
    assert runs == Counter(find_account=2, read_notes=1)  # the skipped close never ran
    assert attempts_by_activity(history)["tool.planner_test.find_account"] == 2  # once per round
    assert result.turns == 3  # plan, re-plan, answer


async def test_mode_routed_per_task_by_code(env: WorkflowEnvironment) -> None:
    agent = dataclasses.replace(
        planning_agent(), mode="react", mode_for=lambda t: "plan" if "plan" in t else "react"
    )
    planner = ScriptedPlanner([step("s1", "read_notes", topic="x")])
    planned, _, _, wire = await run_plan(env, planner, agent=agent, task="Please plan: notes on x.")
    assert planned.plan and planned.status == RunState.COMPLETED
    react, _, runs, wire = await run_plan(env, ScriptedPlanner(), agent=agent, task="Just answer.")
    assert react.plan == () and not runs
    assert "tools" in wire.requests[0]  # a ReAct turn offers the agent's tools


async def test_more_corrections_when_the_agent_allows_them(env: WorkflowEnvironment) -> None:
    agent = planning_agent(planning=PlanPolicy(corrections=2))
    bad = [step("s1", "findaccount", name="Ada")]  # arguments no tool takes: only the planner can fix it
    planner = ScriptedPlanner(bad, bad, [step("s1", "find_account", owner="Ada")])
    result, _, runs, _ = await run_plan(env, planner, agent=agent)
    assert result.status == RunState.COMPLETED and result.turns == 4  # 3 planning calls, 1 answer
    assert runs == Counter(find_account=1)


async def test_a_misnamed_read_only_step_runs_the_one_tool_its_arguments_fit(
    env: WorkflowEnvironment,
) -> None:
    planner = ScriptedPlanner([step("s1", "lookup_account", owner="Ada"), step("s2", "notes", topic="x")])
    seen: list[Any] = []

    async def follow(handle: WorkflowHandle[Any, AgentResult]) -> None:
        await handle.result()
        seen.extend((await handle.query(AgentWorkflow.progress, 0)).events)

    result, history, runs, _ = await run_plan(env, planner, during=follow)
    assert result.status == RunState.COMPLETED and result.turns == 2  # no model call to fix the names
    assert [(v.id, v.tool, v.state.value) for v in result.plan] == [
        ("s1", "find_account", "done"), ("s2", "read_notes", "done"),
    ]  # fmt: skip
    assert runs == Counter(find_account=1, read_notes=1) and len(planner.asked) == 1
    resolved = next(s for s in result.steps if s.thought == "plan names resolved by arguments")
    assert resolved.actions == ("s1: lookup_account → find_account", "s2: notes → read_notes")
    accepted = next(e for e in seen if e.kind == ProgressKind.PLAN)
    assert "s1: lookup_account → find_account" in (accepted.detail or "")
    markers = [
        e.marker_recorded_event_attributes
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    ]
    patches = [p.data for mk in markers for v in mk.details.values() for p in v.payloads]
    assert any(PLAN_NAMES_PATCH.encode() in data for data in patches)


async def test_a_misnamed_step_is_never_resolved_to_a_tool_with_effects(env: WorkflowEnvironment) -> None:
    # The arguments fit close_account only, but an irreversible tool runs only under its exact name.
    planner = ScriptedPlanner(
        [step("s1", "close", account_id="ACC-ADA")], [step("s1", "read_notes", topic="x")]
    )
    result, _, runs, _ = await run_plan(env, planner)
    assert result.status == RunState.COMPLETED and result.turns == 3
    assert "unknown_tool" in planner.asked[1] and "close_account" in planner.asked[1]
    assert runs == Counter(read_notes=1)


async def test_name_resolution_can_be_turned_off(env: WorkflowEnvironment) -> None:
    agent = planning_agent(planning=PlanPolicy(resolve_names=False))
    planner = ScriptedPlanner(
        [step("s1", "lookup_account", owner="Ada")], [step("s1", "find_account", owner="Ada")]
    )
    result, _, _, _ = await run_plan(env, planner, agent=agent)
    assert result.status == RunState.COMPLETED and result.turns == 3
    assert "unknown_tool" in planner.asked[1]
