"""One rule for failures in workflow code (core/worker_options.py), on production's worker options.

Our taxonomy ends the run with a typed FAILED result; a genuine bug fails the workflow task, and the
test harness reports that at once instead of waiting on a task the server retries forever.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

import workflows.budgets
import workflows.loop
import workflows.routing
from activities.llm.openai_provider import OpenAIProvider
from activities.llm.prices import PriceBook
from core.errors import InvalidInputError
from core.models import AgentResult, ApproveSignal, RunState, ToolCall
from core.pricing import ModelPrice
from core.worker_options import worker_options
from tests.broken_workflow import ReadsAFile
from tests.conftest import Harness, WorkflowTaskFailed, result_or_task_failure, time_skipping_env
from tests.test_agent_workflow import REFUND, answer, call, calls, wait_for_pending
from workflows.agent import AgentWorkflow

LOOKUPS = (
    call("get_transaction", transaction_id="pay_ABC123"),
    call("get_merchant_account", merchant_id="MID001"),
)


@pytest.fixture(scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
    """A server of this module's own: a run whose workflow task failed keeps the test server from
    skipping time even once terminated, so it must not be the one every other test shares."""
    async for environment in time_skipping_env(tmp_path_factory):
        yield environment


def task_failures(history: WorkflowHistory) -> int:
    return sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)


def hosted(model: str) -> OpenAIProvider:
    """An OpenAI-compatible endpoint serving `model`, which no price list knows, priced by LLM_PRICE."""
    body = {
        "model": model,
        "choices": [{"message": {"content": "pay_ABC123 settled."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 40},
    }
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=body))
    book = PriceBook(model, explicit=ModelPrice(0.2, 0.8))
    return OpenAIProvider("http://acme.test/v1", default_model=model, prices=book, transport=transport)


async def test_a_hosted_model_no_price_list_knows_completes(harness: Harness) -> None:
    """The production bug: a reply naming an unlisted model made every workflow task fail, forever."""
    result, history = await harness.run("status of pay_ABC123?", [], provider=hosted("acme-hosted-7b"))
    assert result.status == RunState.COMPLETED and task_failures(history) == 0
    assert result.cost_usd == pytest.approx((1200 * 0.2 + 40 * 0.8) / 1e6)


async def test_a_taxonomy_error_in_workflow_code_ends_the_run_typed(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object) -> None:
        raise InvalidInputError("price list says no")

    monkeypatch.setattr(workflows.budgets, "price_of_reply", refuse)
    result, history = await harness.run("typed failure", [answer("never shown")])
    assert (result.status, result.stop_reason) == (RunState.FAILED, "InvalidInputError")
    assert "price list says no" in result.answer and task_failures(history) == 0


async def test_non_determinism_fails_the_task_and_the_test_at_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug is not our taxonomy: the task fails (a fixed worker could carry the run on), and the
    harness says so within seconds instead of hanging until the test's timeout."""
    original = workflows.routing.renumber

    def reversed_order(found: tuple[ToolCall, ...], turn: int) -> tuple[ToolCall, ...]:
        return tuple(reversed(original(found, turn)))

    async def reorder_then_approve(handle: WorkflowHandle[Any, AgentResult]) -> None:
        item = (await wait_for_pending(handle)).pending[0]
        monkeypatch.setattr(workflows.loop, "renumber", reversed_order)  # the next task replays
        await handle.signal(AgentWorkflow.approve, ApproveSignal(call_id=item.call_id, approver="al"))

    started = time.monotonic()
    with pytest.raises(WorkflowTaskFailed, match=r"(?i)nondetermin"):
        script = [calls(*LOOKUPS), calls(REFUND), answer("x")]
        await harness.run("reorder", script, during=reorder_then_approve)
    assert time.monotonic() - started < 30


async def test_a_sandbox_violation_fails_the_task_and_the_test_at_once(harness: Harness) -> None:
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    options = worker_options({}, strict=True)
    async with Worker(harness.env.client, task_queue=queue, workflows=[ReadsAFile], **options):
        handle = await harness.env.client.start_workflow(ReadsAFile.run, id=f"wf-{queue}", task_queue=queue)
        with pytest.raises(WorkflowTaskFailed, match="from inside a workflow"):
            await asyncio.wait_for(result_or_task_failure(handle), timeout=30)
