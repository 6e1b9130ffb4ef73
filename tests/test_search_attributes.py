"""Search attributes: the status at once, turns and cost at most every PUBLISH_INTERVAL and at the end."""

from __future__ import annotations

import json
import uuid
from typing import Any

from temporalio.testing import WorkflowEnvironment

from agents.merchant_support import Store
from core import search_attributes as sa
from core.models import AgentLimits, AgentRequest, AgentResult, RunState
from tests.conftest import DEMO, Harness, scripted_provider, strict_worker
from tests.test_agent_workflow import REFUND, answer, call, calls, wait_for_pending
from tests.test_guardrails_workflow import lookups
from workflows.agent import AgentWorkflow
from workflows.publishing import PUBLISH_INTERVAL


def upserts(history: Any) -> list[dict[str, Any]]:
    """Each UpsertWorkflowSearchAttributes event's fields, decoded."""
    found = []
    for event in history.events:
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            found.append({name: json.loads(payload.data) for name, payload in fields.items()})
    return found


def agent_upserts(history: Any) -> list[dict[str, Any]]:
    """Our upserts, without the SDK's TemporalChangeVersion ones (one per patch)."""
    return [u for u in upserts(history) if any(name.startswith("Agent") for name in u)]


async def test_a_short_run_publishes_turns_and_cost_only_at_the_end(harness: Harness) -> None:
    result, history = await harness.run("eight lookups", [*lookups(8), answer("All checked.")], max_turns=10)
    assert result.status == RunState.COMPLETED and result.turns == 9
    published = agent_upserts(history)
    # The first publish (the harness starts runs without attributes), then nothing until the end: the
    # run took less than PUBLISH_INTERVAL, and its status changed only at the end.
    assert [u.get("AgentTurns") for u in published] == [0, result.turns]
    final: dict[str, Any] = {}
    for update in published:
        final.update(update)
    assert (final["AgentStatus"], final["AgentTurns"]) == ("completed", result.turns)
    assert final["AgentCostUsd"] == result.cost_usd


async def test_a_run_started_with_its_attributes_upserts_once(env: WorkflowEnvironment, store: Store) -> None:
    task = "started with attributes"
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    request = AgentRequest(task=task, user_id="sam", limits=AgentLimits(max_turns=6))
    async with strict_worker(
        env.client, queue, scripted_provider({task: [*lookups(3), answer("Done.")]}), store
    ):
        handle = await env.client.start_workflow(
            AgentWorkflow.run,
            request,
            id=f"wf-{uuid.uuid4().hex[:10]}",
            task_queue=queue,
            search_attributes=sa.at_start(request.user_id, DEMO.name, DEMO.instructions.current),
        )
        result = AgentResult.model_validate(await handle.result())
        history = await handle.fetch_history()
    assert result.status == RunState.COMPLETED
    # What the starter set is not upserted again: only the end goes out, and only what changed (the
    # scripted model costs nothing, so the cost is still the starter's 0.0).
    assert result.cost_usd == 0.0
    # (The prompt channel rides along with that one upsert.)
    final = {"AgentStatus": "completed", "AgentTurns": result.turns, "AgentPromptChannel": "stable"}
    assert agent_upserts(history) == [final]


async def test_a_run_past_the_interval_publishes_its_turns_while_running(harness: Harness) -> None:
    # The second model call is rate limited with Retry-After: 40 s, so turn 2 starts 40 s after the run.
    slow = calls(call("search_knowledge_base", query="policy"))
    slow = slow.model_copy(update={"status": 429, "headers": {"Retry-After": "40"}, "fail_first": 1})
    script = [*lookups(1), slow, *lookups(1), answer("Checked.")]
    result, history = await harness.run("slow model", script, max_turns=6)
    assert result.status == RunState.COMPLETED and result.turns == 4
    published = agent_upserts(history)
    turns = [u["AgentTurns"] for u in published if "AgentTurns" in u]
    assert turns[0] == 0 and turns[-1] == result.turns
    assert len(turns) == 3 and 0 < turns[1] < result.turns, turns  # once while running, after the wait
    assert PUBLISH_INTERVAL.total_seconds() < 40


async def test_a_run_awaiting_approval_is_published_at_once_with_its_turn(harness: Harness) -> None:
    seen: dict[str, Any] = {}

    async def approve(handle: Any) -> None:
        item = (await wait_for_pending(handle)).pending[0]
        described = await handle.describe()
        seen.update({key.name: value for key, value in described.typed_search_attributes})
        await handle.signal(
            AgentWorkflow.approve,
            {"call_id": item.call_id, "approver": "al", "args_sha256": item.args_sha256},
        )

    script = [
        calls(call("get_transaction", transaction_id="pay_ABC123")),
        calls(REFUND),
        answer("Refunded re_."),
    ]
    result, _ = await harness.run("publish approval", script, during=approve)
    assert result.status == RunState.COMPLETED
    assert seen["AgentStatus"] == "awaiting_approval" and seen["AgentTurns"] == 2
