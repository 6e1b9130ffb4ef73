"""Guardrails in the running loop: each budget, loop detection, continue-as-new, the daily ledger."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowHistory

from core.guardrails import ContextSettings, PriceOverride, RunBudgets, UserDayBudget
from core.ledger import LedgerBalance
from core.models import (
    AgentLimits,
    AgentRequest,
    AgentResult,
    ApproveSignal,
    ModelSettings,
    RunState,
    ToolOutcome,
)
from tests.conftest import Harness, result_or_task_failure, scripted_models, strict_worker
from tests.history_facts import attempts_by_activity, scheduled_activities
from tests.test_agent_workflow import REFUND, answer, call, calls, wait_for_pending
from workflows.agent import AgentWorkflow
from workflows.ledger import ledger_day, ledger_id

PRICED = ModelSettings(model="gpt-4o-mini")  # 0.15 / 0.60 USD per million tokens
SERVED = ("scripted", "gpt-4o-mini", "acme-9")  # acme-9: served, but with no price the worker knows


def searches(n: int) -> list[Any]:
    """n turns of distinct knowledge-base searches (unbounded supply of new, valid calls)."""
    return [calls(call("search_knowledge_base", query=f"refund policy question {i}")) for i in range(n)]


def lookups(n: int) -> list[Any]:
    """n turns of different, successful lookups, alternating tools: progress for the loop detector
    (which stops four calls of one tool in a row, whatever their arguments)."""
    ids = ["pay_ABC123", "pay_ABC124", "pay_ABC125", "pay_ABC128", "pay_ABC129", "pay_DEF201", "pay_DEF202"]
    return [
        calls(call("get_transaction", transaction_id=ids[(i // 2) % len(ids)]))
        if i % 2 == 0
        else calls(call("search_knowledge_base", query=f"policy question {i}"))
        for i in range(n)
    ]


async def run_request(harness: Harness, request: AgentRequest, script: list[Any], **kw: Any) -> AgentResult:
    """Run a full AgentRequest (not just a task) on a fresh queue; returns the result."""
    result, _ = await run_request_with_history(harness, request, script, **kw)
    return result


async def run_request_with_history(
    harness: Harness, request: AgentRequest, script: list[Any], **kw: Any
) -> tuple[AgentResult, WorkflowHistory]:
    """Run a full AgentRequest (not just a task) on a fresh queue; returns the result and history."""
    queue, wid = f"tq-{uuid.uuid4().hex[:8]}", kw.pop("workflow_id", f"g-{uuid.uuid4().hex[:8]}")
    provider = scripted_models({request.task: script}, *SERVED)
    async with strict_worker(harness.env.client, queue, provider, harness.store):
        handle = await harness.env.client.start_workflow(
            "AgentWorkflow", request, id=wid, task_queue=queue, result_type=AgentResult
        )
        if "during" in kw:
            await kw["during"](handle)
        result: AgentResult = await result_or_task_failure(handle)
    return result, await handle.fetch_history()


async def test_token_budget_stops_before_it_is_exceeded(harness: Harness) -> None:
    budgets = RunBudgets(max_tokens=2500)
    request = AgentRequest(task="token budget", budgets=budgets, limits=AgentLimits(max_turns=20))
    result = await run_request(harness, request, lookups(20))
    assert (result.status, result.stop_reason) == (RunState.BUDGET_EXHAUSTED, "max_tokens")
    assert result.spent is not None and result.spent.tokens <= budgets.max_tokens
    assert result.budget is not None and result.budget.which == "max_tokens"
    assert "verified so far" in result.answer  # partial findings, not a guess


async def test_cost_budget_stops_before_it_is_exceeded(harness: Harness) -> None:
    budgets = RunBudgets(max_cost_usd=0.0005)
    request = AgentRequest(task="usd budget", budgets=budgets, model=PRICED, limits=AgentLimits(max_turns=60))
    result = await run_request(harness, request, searches(60))
    assert (result.status, result.stop_reason) == (RunState.BUDGET_EXHAUSTED, "max_cost_usd")
    assert result.spent is not None and 0 < result.spent.cost_usd <= budgets.max_cost_usd
    assert result.cost_usd == round(result.spent.cost_usd, 6)  # the price table's cost, never zero


async def test_tool_call_budget_refuses_the_turn_that_would_exceed_it(harness: Harness) -> None:
    request = AgentRequest(task="tool budget", budgets=RunBudgets(max_tool_calls=2))
    result = await run_request(harness, request, lookups(5))
    assert (result.status, result.stop_reason) == (RunState.BUDGET_EXHAUSTED, "max_tool_calls")
    assert len([c for c in result.tool_calls if c.outcome == ToolOutcome.OK]) == 2


async def test_deadline_is_checked_before_the_next_call(harness: Harness) -> None:
    async def approve_late(handle: WorkflowHandle[Any, AgentResult]) -> None:
        status = await wait_for_pending(handle)
        await harness.env.sleep(timedelta(minutes=3))
        await handle.signal(
            AgentWorkflow.approve,
            ApproveSignal(call_id="t1-1", approver="a", args_sha256=status.pending[0].args_sha256),
        )

    request = AgentRequest(task="deadline", budgets=RunBudgets(deadline_s=120))
    result = await run_request(harness, request, [calls(REFUND), answer("done")], during=approve_late)
    assert (result.status, result.stop_reason) == (RunState.BUDGET_EXHAUSTED, "deadline")
    assert result.tool_calls[0].outcome == ToolOutcome.OK  # what was approved still ran, once


async def test_a_model_the_worker_does_not_serve_is_refused_at_start(harness: Harness) -> None:
    request = AgentRequest(task="unserved", model=ModelSettings(model="gpt-9-unserved"))
    result, history = await run_request_with_history(harness, request, [answer("never")])
    assert (result.status, result.stop_reason, result.turns) == (RunState.FAILED, "InvalidInputError", 0)
    assert "'gpt-9-unserved' is not served" in result.answer and "gpt-4o-mini" in result.answer
    assert not attempts_by_activity(history)  # refused before any activity


async def test_a_served_model_nobody_can_price_is_refused_before_any_spend(harness: Harness) -> None:
    """The worker refuses a model it cannot price before calling it: one attempt, a typed FAILED run."""
    request = AgentRequest(task="unpriced", model=ModelSettings(model="acme-9"))
    result, history = await run_request_with_history(harness, request, [answer("never")])
    assert (result.status, result.stop_reason) == (RunState.FAILED, "InvalidInputError")
    assert "no price" in result.answer and result.cost_usd == 0 and result.usage.total == 0
    assert attempts_by_activity(history)["llm.complete"] == 1  # never retried


async def test_a_run_priced_by_itself_is_charged_its_own_price(harness: Harness) -> None:
    """A run may price a model the worker cannot (budgets.price): the quote travels with the request."""
    price = PriceOverride(input_per_mtok=2.0, output_per_mtok=4.0)
    request = AgentRequest(
        task="self-priced", model=ModelSettings(model="acme-9"), budgets=RunBudgets(price=price)
    )
    result = await run_request(harness, request, [answer("Priced and done.")])
    assert result.status == RunState.COMPLETED and result.usage.total > 0
    expected = (result.usage.prompt_tokens * 2.0 + result.usage.completion_tokens * 4.0) / 1e6
    assert abs(result.cost_usd - expected) < 1e-9


async def test_repeated_call_gets_its_result_then_the_run_stops_as_a_loop(harness: Harness) -> None:
    same = calls(call("get_transaction", transaction_id="pay_ABC123"))
    result, history = await harness.run("loop", [same, same, same, answer("never")])
    # The third call is refused too and stops the run: every proposed call is in the record, as in trace.
    assert [c.outcome for c in result.tool_calls] == [
        ToolOutcome.OK,
        ToolOutcome.REJECTED,
        ToolOutcome.REJECTED,
    ]
    repeat = json.loads(result.tool_calls[1].observation)
    assert repeat["error_type"] == "LoopDetected" and "pay_ABC123" in repeat["message"]
    assert scheduled_activities(history).count("tool.merchant_support.get_transaction") == 1
    assert (result.status, result.stop_reason) == (RunState.LOOP_DETECTED, "loop_detected")
    assert result.loops is not None and result.loops.detections == 2
    assert "tool.merchant_support.escalate_to_human" in scheduled_activities(
        history
    )  # a human takes over via a ticket


async def test_continue_as_new_carries_state_and_changes_nothing_in_the_result(harness: Harness) -> None:
    async def outcome(turns_per_run: int) -> AgentResult:
        request = AgentRequest(
            task="long case",  # identical text: token counts depend on it
            limits=AgentLimits(max_turns=12),
            context=ContextSettings(turns_per_run=turns_per_run),
        )
        return await run_request(harness, request, [*lookups(7), answer("All seven checked.")])

    split, whole = await outcome(3), await outcome(100)
    assert (split.runs, whole.runs) == (3, 1)
    assert comparable(split) == comparable(whole)


def comparable(result: AgentResult) -> dict[str, Any]:
    """A result without what differs between any two runs: ids and measured latencies."""
    data = result.model_dump(mode="json", exclude={"workflow_id", "runs"})
    for item in (*data["steps"], *data["tool_calls"]):
        item.pop("latency_ms")
    return data


async def test_daily_ledger_stays_exact_under_five_concurrent_runs_of_one_user(harness: Harness) -> None:
    user = f"u{uuid.uuid4().hex[:6]}"
    limit = UserDayBudget(max_cost_usd=0.0025)
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    scripts = {f"ledger run {i}": [*lookups(6), answer("ok")] for i in range(5)}
    async with strict_worker(harness.env.client, queue, scripted_models(scripts, *SERVED), harness.store):
        handles = [
            await harness.env.client.start_workflow(
                AgentWorkflow.run,
                AgentRequest(
                    task=task, user_id=user, model=PRICED, user_budget=limit, limits=AgentLimits(max_turns=10)
                ),
                id=f"{user}-{i}",
                task_queue=queue,
            )
            for i, task in enumerate(scripts)
        ]
        # Real time here: a skipping test server could jump past the ledger's day between calls.
        with harness.env.auto_time_skipping_disabled():
            results: list[AgentResult] = list(await asyncio.gather(*(h.result() for h in handles)))
        day = ledger_day((await handles[0].describe()).start_time)
        ledger = harness.env.client.get_workflow_handle(ledger_id(user, day))
        balance: LedgerBalance = await ledger.query("balance", result_type=LedgerBalance)
        # Its worker goes away with this test: end the ledger, or a later test's time skipping
        # would stop at the ledger's closing timer with nobody to run it.
        await ledger.terminate("test finished")
    spent = sum(r.spent.cost_usd for r in results if r.spent is not None)  # unrounded, unlike cost_usd
    assert abs(balance.settled_usd - spent) < 1e-9 and balance.reserved_usd == 0
    assert balance.settled_usd <= limit.max_cost_usd
    refused = [r for r in results if r.stop_reason == "BudgetExceededError"]
    assert refused and all("budget" in r.answer.lower() for r in refused)
