"""Search attributes: the status at once, turns and cost every few turns and at the end."""

from __future__ import annotations

import json
from typing import Any

from core.models import RunState
from tests.conftest import Harness
from tests.test_agent_workflow import REFUND, answer, call, calls, wait_for_pending
from tests.test_guardrails_workflow import lookups
from workflows.agent_base import PUBLISH_EVERY_TURNS


def upserts(history: Any) -> list[dict[str, Any]]:
    """Each UpsertWorkflowSearchAttributes event's fields, decoded."""
    found = []
    for event in history.events:
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            found.append({name: json.loads(payload.data) for name, payload in fields.items()})
    return found


async def test_turns_and_cost_are_published_every_few_turns_and_at_the_end(harness: Harness) -> None:
    result, history = await harness.run("eight lookups", [*lookups(8), answer("All checked.")], max_turns=10)
    assert result.status == RunState.COMPLETED and result.turns == 9
    published = upserts(history)
    turns = [u["AgentTurns"] for u in published if "AgentTurns" in u]
    # The first publish (nothing was set at start), every PUBLISH_EVERY_TURNS-th turn, the end.
    assert turns == [0, *range(PUBLISH_EVERY_TURNS, result.turns, PUBLISH_EVERY_TURNS), result.turns]
    ours = [u for u in published if any(name.startswith("Agent") for name in u)]
    assert len(ours) == len(turns)  # the status changed only at the end, with the last turn
    final: dict[str, Any] = {}
    for update in published:
        final.update(update)
    assert (final["AgentStatus"], final["AgentTurns"]) == ("completed", result.turns)
    assert final["AgentCostUsd"] == result.cost_usd


async def test_a_run_awaiting_approval_is_published_at_once_with_its_turn(harness: Harness) -> None:
    seen: dict[str, Any] = {}

    async def approve(handle: Any) -> None:
        item = (await wait_for_pending(handle)).pending[0]
        described = await handle.describe()
        seen.update({key.name: value for key, value in described.typed_search_attributes})
        await handle.signal(
            "approve", {"call_id": item.call_id, "approver": "al", "args_sha256": item.args_sha256}
        )

    script = [
        calls(call("get_transaction", transaction_id="pay_ABC123")),
        calls(REFUND),
        answer("Refunded re_."),
    ]
    result, _ = await harness.run("publish approval", script, during=approve)
    assert result.status == RunState.COMPLETED
    assert seen["AgentStatus"] == "awaiting_approval" and seen["AgentTurns"] == 2
