"""Both demo agents on one worker, each with its own instructions, tools and model; and the shop
agent's return flow end to end: nothing returned before a human approves, an approved return once."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.prices import PriceBook
from activities.llm.registry import ModelRegistry
from activities.llm.scripted import ScriptBook, ScriptedTransport
from client import AgentClient
from core.agent import AgentEnv
from core.apps import opened_deps
from core.models import AgentRequest, ApproveSignal, RunState, ToolOutcome
from core.pricing import ModelPrice
from core.worker_options import worker_options
from tests.conftest import DEMO, SCRIPTED_URL, SHOP, result_or_task_failure
from tests.history_facts import scheduled_activities, scheduled_together
from tests.test_agent_workflow import wait_for_pending
from worker import build_worker

SUPPORT = dataclasses.replace(DEMO, model="support-model")
SHOPPING = dataclasses.replace(SHOP, model="shop-model")
REFUND_CASE = "Merchant MID001 says pay_ABC123 was charged twice; refund the duplicate."
STOCK_QUESTION = "Is the kettle KET-200 in stock, and when would it arrive in 10115 Berlin?"
RETURN_CASE = "My order ORD-1001 arrived but I do not want it anymore, please return it."


def model(name: str, policy: Any, price: ModelPrice) -> tuple[OpenAIProvider, ScriptedTransport]:
    """A scripted endpoint serving `name` at an explicit price (as LLM_PRICE gives one)."""
    transport = ScriptedTransport(ScriptBook({}, fallback=policy))
    prices = PriceBook(name, explicit=price)
    return OpenAIProvider(SCRIPTED_URL, default_model=name, transport=transport, prices=prices), transport


@pytest.fixture
async def deps(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with opened_deps([SUPPORT, SHOPPING], AgentEnv(tmp_path)) as opened:
        yield opened


async def approve_first(runs: AgentClient, handle: Any, approver: str) -> str:
    pending = (await wait_for_pending(handle)).pending[0]
    sha = pending.args_sha256
    await runs.approve(handle, ApproveSignal(call_id=pending.call_id, approver=approver, args_sha256=sha))
    return pending.tool


async def test_two_agents_on_one_worker_keep_their_own_prompts_tools_and_models(
    env: WorkflowEnvironment, deps: dict[str, Any]
) -> None:
    support, support_wire = model("support-model", DEMO.stand_in, ModelPrice(0.15, 0.60))
    shopping, shop_wire = model("shop-model", SHOP.stand_in, ModelPrice(0.10, 0.40))
    providers = {"support-model": support, "shop-model": shopping}
    models = ModelRegistry(default="support-model", providers=providers)
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    options = worker_options({}, strict=True)
    refunds_before = await deps["merchant_support"].count("refunds")  # the seed holds earlier ones
    async with build_worker(env.client, queue, [SUPPORT, SHOPPING], models, deps, **options):
        runs = AgentClient(env.client, queue)
        refund = await runs.start(AgentRequest(task=REFUND_CASE, agent="merchant_support"))
        stock = await runs.start(AgentRequest(task=STOCK_QUESTION, agent="shop"))
        # Approved before any result is awaited: awaiting one lets the test server skip time.
        assert await approve_first(runs, refund, "alice") == "initiate_refund"
        # And no skipping while both finish: under load a workflow task can be retried (an eviction),
        # and a skip across that gap fired the run's deadline. These runs need no timer to end.
        with env.auto_time_skipping_disabled():
            both = await asyncio.gather(result_or_task_failure(refund), result_or_task_failure(stock))
        refunded, answered = both
        stock_history = await stock.fetch_history()
    assert (refunded.status, refunded.agent, answered.status, answered.agent) == (
        RunState.COMPLETED, "merchant_support", RunState.COMPLETED, "shop",
    )  # fmt: skip
    for wire, agent in ((support_wire, DEMO), (shop_wire, SHOP)):
        body = wire.requests[0]
        assert body["messages"][0]["content"] == agent.instructions.text()
        assert [t["function"]["name"] for t in body["tools"]] == agent.registry.names()
    assert {b["model"] for b in support_wire.requests} == {"support-model"}
    assert {b["model"] for b in shop_wire.requests} == {"shop-model"}
    assert refunded.cost_usd > 0 and answered.cost_usd > 0  # each at its own model's price
    # The shopper's two questions are independent: product and shipping are looked up in one turn.
    assert scheduled_together(stock_history, "tool.shop.") >= 2
    assert await deps["merchant_support"].count("refunds") == refunds_before + 1


async def test_no_return_without_approval_and_an_approved_one_once(
    env: WorkflowEnvironment, deps: dict[str, Any]
) -> None:
    provider, _ = model("scripted", SHOP.stand_in, ModelPrice(0.0, 0.0))
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    store = deps["shop"].store
    before = await store.count("returns")
    async with build_worker(env.client, queue, [SHOP], provider, deps, **worker_options({}, strict=True)):
        runs = AgentClient(env.client, queue)
        handle = await runs.start(AgentRequest(task=RETURN_CASE, agent="shop"))
        await wait_for_pending(handle)
        assert await store.count("returns") == before  # asked, not done
        assert await approve_first(runs, handle, "bob") == "process_return"
        result = await result_or_task_failure(handle)
        history = await handle.fetch_history()
    assert result.status == RunState.COMPLETED
    returned = [c for c in result.tool_calls if c.tool == "process_return" and c.outcome == ToolOutcome.OK]
    assert len(returned) == 1 and returned[0].approved_by == "bob"
    assert await store.count("returns") == before + 1
    assert scheduled_activities(history).count("tool.shop.process_return") == 1
    assert returned[0].result is not None and returned[0].result["return_id"] in result.answer
