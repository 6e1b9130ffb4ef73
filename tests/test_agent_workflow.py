"""AgentWorkflow on the time-skipping server with the scripted model: the loop's contract."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from temporalio.client import WorkflowHandle

from activities.llm.scripted import ScriptedReply, ScriptedToolCall
from bench.tool_faults import ToolFaults
from core.models import AgentResult, ApproveSignal, DenySignal, RunState, RunStatus, ToolOutcome
from tests.conftest import Harness, scripted_provider, strict_worker
from tests.history_facts import attempts_by_activity, scheduled_activities, scheduled_together
from workflows.agent import AgentWorkflow


def call(name: str, **arguments: Any) -> ScriptedToolCall:
    return ScriptedToolCall(name=name, arguments=arguments)


def calls(*items: ScriptedToolCall, content: str = "") -> ScriptedReply:
    return ScriptedReply(content=content, tool_calls=list(items))


def answer(text: str) -> ScriptedReply:
    return ScriptedReply(content=text)


REFUND = call(
    "initiate_refund", transaction_id="pay_ABC124", amount="49.99", currency="USD", reason="duplicate charge"
)


async def wait_for_pending(handle: WorkflowHandle[Any, AgentResult]) -> RunStatus:
    for _ in range(200):
        status: RunStatus = await handle.query(AgentWorkflow.status)
        if status.pending:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError("no approval became pending")


async def approve_as_alice(handle: WorkflowHandle[Any, AgentResult]) -> None:
    """Approve the run's first pending call as alice, bound to the hash she was shown."""
    status = await wait_for_pending(handle)
    item = status.pending[0]
    await handle.signal(
        "approve", ApproveSignal(call_id=item.call_id, approver="alice", args_sha256=item.args_sha256)
    )


async def test_final_answer_after_a_lookup(harness: Harness) -> None:
    result, history = await harness.run(
        "look up pay_ABC123",
        [calls(call("get_transaction", transaction_id="pay_ABC123")), answer("It is a 49.99 USD charge.")],
    )
    assert result.status == RunState.COMPLETED
    assert result.answer == "It is a 49.99 USD charge."
    assert result.turns == 2
    [record] = result.tool_calls
    assert (record.tool, record.outcome, record.call_id) == ("get_transaction", ToolOutcome.OK, "t1-1")
    assert json.loads(record.observation)["result"]["transaction_id"] == "pay_ABC123"
    assert scheduled_activities(history) == [
        "llm.complete",
        "tool.merchant_support.get_transaction",
        "llm.complete",
    ]
    assert result.usage.total > 0


async def test_unknown_tool_is_one_observation_and_no_activity(harness: Harness) -> None:
    result, history = await harness.run(
        "hallucinate a tool",
        [calls(call("get_transactoin", transaction_id="pay_ABC123")), answer("Sorry.")],
    )
    [record] = result.tool_calls
    assert record.outcome == ToolOutcome.REJECTED and record.error_type == "ToolNotFoundError"
    observation = json.loads(record.observation)
    assert observation["retryable"] is False
    assert "get_transaction" in observation["details"]["closest"]
    assert [a for a in scheduled_activities(history) if a.startswith("tool.")] == []
    assert attempts_by_activity(history)["llm.complete"] == 2


async def test_invalid_arguments_are_one_observation_and_no_activity(harness: Harness) -> None:
    result, history = await harness.run(
        "bad arguments",
        [calls(call("get_transaction", transaction_id="12; DROP TABLE transactions")), answer("Sorry.")],
    )
    [record] = result.tool_calls
    assert record.outcome == ToolOutcome.REJECTED and record.error_type == "InvalidInputError"
    fields = json.loads(record.observation)["details"]["fields"]
    assert fields[0]["field"] == "transaction_id"
    assert [a for a in scheduled_activities(history) if a.startswith("tool.")] == []


async def test_malformed_arguments_json_is_rejected_without_activity(harness: Harness) -> None:
    result, history = await harness.run(
        "malformed json arguments",
        [
            ScriptedReply(
                tool_calls=[ScriptedToolCall(name="get_transaction", arguments='{"transaction_id": ')]
            ),
            answer("Sorry."),
        ],
    )
    assert result.tool_calls[0].error_type == "InvalidInputError"
    assert [a for a in scheduled_activities(history) if a.startswith("tool.")] == []


async def test_independent_calls_run_in_parallel_and_return_in_order(harness: Harness) -> None:
    result, history = await harness.run(
        "two lookups",
        [
            calls(
                call("get_transaction", transaction_id="pay_ABC123"),
                call("get_merchant_account", merchant_id="MID001"),
            ),
            answer("done"),
        ],
    )
    assert [r.tool for r in result.tool_calls] == ["get_transaction", "get_merchant_account"]
    assert [r.call_id for r in result.tool_calls] == ["t1-1", "t1-2"]
    assert scheduled_together(history, "tool.") == 2


async def test_refund_waits_for_approval_then_runs_once(harness: Harness) -> None:
    before = await harness.store.count("refunds")

    async def approve(handle: WorkflowHandle[Any, AgentResult]) -> None:
        status = await wait_for_pending(handle)
        assert status.state == RunState.AWAITING_APPROVAL
        [item] = status.pending
        assert (item.call_id, item.tool, item.args["transaction_id"]) == (
            "t1-1",
            "initiate_refund",
            "pay_ABC124",
        )
        assert await harness.store.count("refunds") == before  # nothing runs before the approval
        await handle.signal(
            AgentWorkflow.approve,
            ApproveSignal(call_id="t1-1", approver="alice", args_sha256=item.args_sha256),
        )

    result, _ = await harness.run("refund it", [calls(REFUND), answer("Refunded.")], during=approve_as_alice)
    assert result.status == RunState.COMPLETED
    assert result.tool_calls[0].outcome == ToolOutcome.OK and result.tool_calls[0].approved_by == "alice"
    assert await harness.store.count("refunds") == before + 1
    assert [a.event for a in result.audit] == ["requested", "approved"]


async def test_denied_refund_is_an_observation_and_never_runs(harness: Harness) -> None:
    async def deny(handle: WorkflowHandle[Any, AgentResult]) -> None:
        await wait_for_pending(handle)
        await handle.signal(
            AgentWorkflow.deny, DenySignal(call_id="t1-1", approver="bob", reason="not a duplicate")
        )

    before = await harness.store.count("refunds")
    result, history = await harness.run(
        "refund denied", [calls(REFUND), answer("The refund was not approved.")], during=deny
    )
    assert result.status == RunState.DENIED
    record = result.tool_calls[0]
    assert record.outcome == ToolOutcome.DENIED
    assert "not a duplicate" in json.loads(record.observation)["message"]
    assert "tool.merchant_support.initiate_refund" not in scheduled_activities(history)
    assert await harness.store.count("refunds") == before


async def test_approval_for_wrong_hash_or_call_changes_nothing(harness: Harness) -> None:
    async def confused_then_right(handle: WorkflowHandle[Any, AgentResult]) -> None:
        status = await wait_for_pending(handle)
        await handle.signal(
            AgentWorkflow.approve, ApproveSignal(call_id="t1-1", approver="eve", args_sha256="0" * 64)
        )
        await handle.signal(AgentWorkflow.approve, ApproveSignal(call_id="t9-9", approver="eve"))
        again: RunStatus = await handle.query(AgentWorkflow.status)
        assert again.pending and again.state == RunState.AWAITING_APPROVAL
        await handle.signal(
            AgentWorkflow.approve,
            ApproveSignal(call_id="t1-1", approver="alice", args_sha256=status.pending[0].args_sha256),
        )

    result, _ = await harness.run(
        "refund with noise", [calls(REFUND), answer("ok")], during=confused_then_right
    )
    assert result.tool_calls[0].approved_by == "alice"
    assert [a.event for a in result.audit if a.call_id == "t1-1"] == ["requested", "rejected", "approved"]


async def test_max_turns_ends_honestly_without_exception(harness: Harness) -> None:
    # Different queries each turn: progress as far as the loop detector can tell, so max_turns stops it.
    lookups = [calls(call("search_knowledge_base", query=f"refund policy {n}")) for n in range(10)]
    result, _ = await harness.run("loop forever", lookups, max_turns=3)
    assert result.status == RunState.BUDGET_EXHAUSTED
    assert result.stop_reason == "max_turns" and result.turns == 3
    assert "stopped after 3 turns" in result.answer and "search_knowledge_base" in result.answer


async def test_refund_retried_after_its_write_is_stored_once(harness: Harness) -> None:
    before = await harness.store.count("refunds")
    result, history = await harness.run(
        "refund with a crash after the write",
        [calls(REFUND), answer("Refunded.")],
        faults=ToolFaults(fail_after_side_effect={"initiate_refund": 1}),
        during=approve_as_alice,
    )
    assert result.tool_calls[0].outcome == ToolOutcome.OK
    assert attempts_by_activity(history)["tool.merchant_support.initiate_refund"] == 2
    assert await harness.store.count("refunds") == before + 1


async def test_unparseable_reply_becomes_feedback_for_the_model(harness: Harness) -> None:
    result, _ = await harness.run(
        "garbled reply", [answer('<tool_call>{"name": "get_transaction", "arguments": {'), answer("ok")]
    )
    assert result.status == RunState.COMPLETED and result.turns == 2
    assert result.steps[0].error is not None


async def test_second_start_with_same_id_joins_the_run(harness: Harness) -> None:
    from temporalio.common import WorkflowIDConflictPolicy

    from core.models import AgentRequest

    async def start_again(handle: WorkflowHandle[Any, AgentResult]) -> None:
        await wait_for_pending(handle)
        again = await harness.env.client.start_workflow(
            AgentWorkflow.run,
            AgentRequest(task="refund once"),
            id=handle.id,
            task_queue="unused-queue",
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        assert again.result_run_id == handle.result_run_id  # the same run, not a second one
        status = await wait_for_pending(handle)
        await handle.signal(
            AgentWorkflow.approve,
            ApproveSignal(call_id="t1-1", approver="a", args_sha256=status.pending[0].args_sha256),
        )

    before = await harness.store.count("refunds")
    result, _ = await harness.run("refund once", [calls(REFUND), answer("done")], during=start_again)
    assert result.status == RunState.COMPLETED
    assert await harness.store.count("refunds") == before + 1


async def test_doomed_refund_is_refused_before_any_human_is_asked(harness: Harness) -> None:
    already_refunded = call(
        "initiate_refund",
        transaction_id="pay_ABC126",
        amount="25.00",
        currency="USD",
        reason="customer asked",
    )
    result, history = await harness.run("refund a refunded payment", [calls(already_refunded), answer("No.")])
    [record] = result.tool_calls
    assert (record.outcome, record.error_type) == (ToolOutcome.ERROR, "InvalidInputError")
    assert "exceeds the refundable" in json.loads(record.observation)["message"]
    assert result.audit == ()  # no approval was ever requested
    scheduled = scheduled_activities(history)
    assert (
        "tool.merchant_support.initiate_refund.precheck" in scheduled
        and "tool.merchant_support.initiate_refund" not in scheduled
    )


async def test_unknown_agent_fails_fast_with_a_typed_reason(harness: Harness) -> None:
    from core.models import AgentRequest

    handle = await harness.env.client.start_workflow(
        AgentWorkflow.run,
        AgentRequest(task="anything", agent="nope"),
        id="unknown-agent",
        task_queue="tq-unknown-agent",
    )
    async with strict_worker(harness.env.client, "tq-unknown-agent", scripted_provider({}), harness.store):
        result = await handle.result()
    assert (result.status, result.stop_reason, result.turns) == (RunState.FAILED, "InvalidInputError", 0)
    assert "unknown agent 'nope'" in result.answer and "merchant_support" in result.answer
    history = await handle.fetch_history()
    assert scheduled_activities(history) == []  # refused before any activity
