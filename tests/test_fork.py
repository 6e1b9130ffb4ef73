"""Fork: a 6-turn run forked at turn 3 with another prompt version runs no activity of turns 1-3 again,
duplicates no side effect, records its parent and shows it in `trace`; a pending approval at the fork
point is asked again; a turn beyond the last, an unknown run and another agent are typed errors."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import ScriptBook, ScriptedTransport
from agents.merchant_support import Store
from cli import trace
from cli.errors import CliError
from cli.fork import fork
from core import search_attributes as sa
from core.agent import PINNED, Instructions
from core.models import AgentLimits, AgentRequest, ApproveSignal, DenySignal, RunState
from tests.conftest import DEMO, SCRIPTED_URL, SHOP, result_or_task_failure, strict_worker
from tests.test_agent_workflow import answer, call, calls, wait_for_pending
from tests.test_prompt_channels import V2, V3, with_channels
from workflows.agent import AgentWorkflow

SIX_TURNS = "six turns, a ticket in turn 2"
SCRIPT = [
    calls(call("get_transaction", transaction_id="pay_ABC123")),
    calls(call("create_support_ticket", merchant_id="MID001", subject="Duplicate?", body="Check pay_ABC123")),
    calls(call("search_knowledge_base", query="duplicate charge refund")),
    calls(call("get_transaction", transaction_id="pay_ABC125")),
    calls(call("search_knowledge_base", query="payout schedule")),
    answer("Checked both payments and opened a ticket."),
]
REFUND_CASE = "Merchant MID001 says pay_ABC123 was charged twice; refund the duplicate."


def provider() -> OpenAIProvider:
    transport = ScriptedTransport(ScriptBook({SIX_TURNS: SCRIPT}, fallback=DEMO.stand_in))
    return OpenAIProvider(SCRIPTED_URL, default_model="scripted", transport=transport)


def activities(history: WorkflowHistory) -> list[tuple[str, dict[str, Any]]]:
    """(activity type, decoded input) of every activity the history schedules."""
    found = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            found.append((attrs.activity_type.name, json.loads(attrs.input.payloads[0].data)))
    return found


def turn_of(kind: str, data: dict[str, Any]) -> int:
    if kind == "llm.complete":
        return int(data["turn"])
    return int(str(data["call_id"]).split("-")[0].removeprefix("t"))


async def test_a_fork_at_turn_3_reruns_nothing_of_turns_1_to_3(
    env: WorkflowEnvironment, store: Store
) -> None:
    agent = with_channels(0)  # support-v2 stable, support-v3 known
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    parent_id = f"wf-{uuid.uuid4().hex[:10]}"
    async with strict_worker(env.client, queue, provider(), store, agents=(agent,)):
        request = AgentRequest(task=SIX_TURNS, limits=AgentLimits(max_turns=8))
        parent = await env.client.start_workflow(AgentWorkflow.run, request, id=parent_id, task_queue=queue)
        first = await result_or_task_failure(parent)
        tickets = await store.count("tickets")
        handle = await fork(env.client, [agent], queue, parent_id, 3, prompt_version="support-v3")
        forked = await result_or_task_failure(handle)
        history = await handle.fetch_history()
        attributes = (await handle.describe()).typed_search_attributes
    assert first.status == forked.status == RunState.COMPLETED, (forked.stop_reason, forked.budget)
    assert first.turns == forked.turns == 6
    done = activities(history)
    assert sorted({turn_of(kind, data) for kind, data in done}) == [4, 5, 6]
    assert [kind for kind, _ in done].count("llm.complete") == 3
    assert not any(kind.endswith("create_support_ticket") for kind, _ in done)
    assert await store.count("tickets") == tickets  # the parent's ticket, once
    # The parent's turns 1-3 are kept with their recorded results; the fork added 4-6.
    assert [c.call_id for c in forked.tool_calls] == [c.call_id for c in first.tool_calls]
    assert forked.tool_calls[1].result == first.tool_calls[1].result
    assert (forked.prompt_version, forked.prompt_channel) == ("support-v3", PINNED)
    # The system message is support-v3's text, so it goes by that version's reference.
    prompts = [(d["prompt_version"], d["system_by_version"]) for kind, d in done if kind == "llm.complete"]
    assert prompts == [("support-v3", True)] * 3
    assert attributes.get(sa.AGENT_FORK_PARENT) == parent_id
    report = (await trace.build_report(history)).model_dump(mode="json")
    assert report["forked_from"]["parent_id"] == parent_id and report["forked_from"]["at_turn"] == 3
    assert f"forked from {parent_id} at turn 3" in "\n".join(trace.render(report))


async def test_a_pending_approval_at_the_fork_point_is_asked_again(
    env: WorkflowEnvironment, store: Store
) -> None:
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    refunds = await store.count("refunds")
    async with strict_worker(env.client, queue, provider(), store):
        parent = await env.client.start_workflow(
            AgentWorkflow.run,
            AgentRequest(task=REFUND_CASE),
            id=f"wf-{uuid.uuid4().hex[:10]}",
            task_queue=queue,
        )
        asked = (await wait_for_pending(parent)).pending[0]
        handle = await fork(env.client, [DEMO], queue, parent.id, asked.turn)
        again = (await wait_for_pending(handle)).pending[0]
        assert (again.call_id, again.tool, again.args) == (asked.call_id, asked.tool, asked.args)
        await handle.signal(
            AgentWorkflow.approve,
            ApproveSignal(call_id=again.call_id, approver="alice", args_sha256=again.args_sha256),
        )
        forked = await result_or_task_failure(handle)
        await parent.signal(
            AgentWorkflow.deny, DenySignal(call_id=asked.call_id, approver="bob", reason="forked")
        )
        denied = await result_or_task_failure(parent)
        history = await handle.fetch_history()
    assert forked.status == RunState.COMPLETED and denied.status == RunState.DENIED
    assert await store.count("refunds") == refunds + 1  # the fork's approved refund, once
    done = activities(history)
    assert min(turn_of(k, d) for k, d in done if k == "llm.complete") == asked.turn + 1
    assert [k for k, _ in done].count("tool.merchant_support.initiate_refund") == 1


async def test_bad_forks_get_typed_errors(env: WorkflowEnvironment, store: Store) -> None:
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with strict_worker(env.client, queue, provider(), store):
        parent = await env.client.start_workflow(
            AgentWorkflow.run,
            AgentRequest(task=SIX_TURNS),
            id=f"wf-{uuid.uuid4().hex[:10]}",
            task_queue=queue,
        )
        await result_or_task_failure(parent)
        cases: list[tuple[str, int, str | None, str, str]] = [
            (parent.id, 9, None, "InvalidInputError", "beyond the last turn"),
            (parent.id, 0, None, "InvalidInputError", "turns start at 1"),
            ("no-such-run", 1, None, "NotFoundError", "no-such-run"),
            (parent.id, 2, "support-v9", "InvalidInputError", "support-v9"),
        ]
        for run_id, at_turn, version, kind, words in cases:
            with pytest.raises(CliError) as caught:
                await fork(env.client, [DEMO], queue, run_id, at_turn, prompt_version=version)
            assert caught.value.kind == kind and words in caught.value.message, caught.value.message
        with pytest.raises(CliError) as caught:
            await fork(env.client, [SHOP], queue, parent.id, 2)
        assert caught.value.kind == "IncompatibleRunError" and "merchant_support" in caught.value.message
        # A deployment whose agent no longer has the parent's prompt version says which.
        ran_on = DEMO.instructions.current
        other = next(v for v in (V2, V3) if v.version != ran_on)
        without = dataclasses.replace(
            DEMO, instructions=Instructions(versions=(other,), current=other.version)
        )
        with pytest.raises(CliError) as caught:
            await fork(env.client, [without], queue, parent.id, 2)
        assert caught.value.kind == "IncompatibleRunError" and f"'{ran_on}'" in caught.value.message
