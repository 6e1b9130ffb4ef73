"""Human in the loop on the time-skipping server: approvals, deadlines, escalations, replies."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from core.models import (
    AgentLimits,
    AgentRequest,
    AgentResult,
    ApproveSignal,
    DecideUpdate,
    DenySignal,
    HumanReplySignal,
    RunState,
    RunStatus,
    ToolOutcome,
)
from tests.conftest import Harness, scripted_provider, strict_worker
from tests.history_facts import scheduled_activities
from tests.test_agent_workflow import REFUND, answer, call, calls, wait_for_pending
from workflows.agent import AgentWorkflow
from workflows.approval import args_sha256

REFUND_ARGS = {
    "transaction_id": "pay_ABC124",
    "amount": "49.99",
    "currency": "USD",
    "reason": "duplicate charge",
}
OTHER_REFUND = call(
    "initiate_refund", transaction_id="pay_DEF205", amount="24.50", currency="EUR", reason="dup"
)
ESCALATE = calls(call("escalate_to_human", reason="policy unclear", summary="merchant disputes a fee"))


async def wait_for_state(handle: WorkflowHandle[Any, AgentResult], state: RunState) -> RunStatus:
    for _ in range(300):
        status: RunStatus = await handle.query(AgentWorkflow.status)
        if status.state == state:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"run never reached {state}")


def events(result: AgentResult, call_id: str | None = None) -> list[str]:
    return [a.event for a in result.audit if call_id is None or a.call_id == call_id]


async def test_approval_that_races_ahead_of_its_request_is_applied(harness: Harness) -> None:
    early = ApproveSignal(
        call_id="t1-1", approver="alice", args_sha256=args_sha256("initiate_refund", REFUND_ARGS)
    )
    queue = "tq-early"
    async with strict_worker(
        harness.env.client, queue, scripted_provider({"early": [calls(REFUND), answer("ok")]}), harness.store
    ):
        result = await harness.env.client.execute_workflow(
            AgentWorkflow.run,
            AgentRequest(task="early approval"),
            id="early-approval",
            task_queue=queue,
            start_signal="approve",
            start_signal_args=[early],
        )
    assert result.tool_calls[0].outcome == ToolOutcome.OK and result.tool_calls[0].approved_by == "alice"
    assert events(result, "t1-1") == ["requested", "approved"]


async def test_two_pending_approvals_are_decided_independently(harness: Harness) -> None:
    async def decide_both(handle: WorkflowHandle[Any, AgentResult]) -> None:
        for _ in range(200):
            status = await wait_for_pending(handle)
            if len(status.pending) == 2:
                break
            await asyncio.sleep(0.05)
        await handle.signal(AgentWorkflow.deny, DenySignal(call_id="t1-2", approver="bob", reason="not ours"))
        await handle.signal(AgentWorkflow.approve, ApproveSignal(call_id="t1-1", approver="alice"))

    result, _ = await harness.run(
        "two refunds", [calls(REFUND, OTHER_REFUND), answer("one done")], during=decide_both
    )
    assert [r.outcome for r in result.tool_calls] == [ToolOutcome.OK, ToolOutcome.DENIED]
    assert result.status == RunState.COMPLETED


async def test_a_denial_sticks_for_the_same_call(harness: Harness) -> None:
    async def deny(handle: WorkflowHandle[Any, AgentResult]) -> None:
        await wait_for_pending(handle)
        await handle.signal(
            AgentWorkflow.deny, DenySignal(call_id="t1-1", approver="bob", reason="needs manager")
        )

    result, _ = await harness.run(
        "deny then retry", [calls(REFUND), calls(REFUND), answer("Not refunded.")], during=deny
    )
    assert [r.outcome for r in result.tool_calls] == [ToolOutcome.DENIED, ToolOutcome.DENIED]
    assert "denied earlier in this run: needs manager" in result.tool_calls[1].observation
    assert events(result).count("requested") == 1  # nobody was asked twice


async def test_approval_deadline_denies_escalates_and_reminds(harness: Harness) -> None:
    async def reply_when_escalated(handle: WorkflowHandle[Any, AgentResult]) -> None:
        # Skip time past the deadline (no signal), then answer the escalation it triggers.
        await harness.env.sleep(timedelta(hours=25))
        await wait_for_state(handle, RunState.ESCALATED)
        await handle.signal(
            AgentWorkflow.human_reply, HumanReplySignal(responder="carol", text="Refund approved offline.")
        )

    result, history = await harness.run("nobody answers", [calls(REFUND)], during=reply_when_escalated)
    assert result.tool_calls[0].outcome == ToolOutcome.DENIED
    assert "approval_timeout" in result.tool_calls[0].observation
    assert events(result) == ["requested", "reminder", "timeout", "escalated", "human_reply"]
    assert result.escalation is not None and result.escalation.trigger == "approval_timeout"
    assert (result.status, result.answer, result.answered_by) == (
        RunState.COMPLETED,
        "Refund approved offline.",
        "carol",
    )
    assert "tool.merchant_support.escalate_to_human" in scheduled_activities(history)  # the ticket exists
    assert "tool.merchant_support.initiate_refund" not in scheduled_activities(history)


async def test_model_escalation_resumes_with_guidance_and_fresh_turns(harness: Harness) -> None:
    async def guide(handle: WorkflowHandle[Any, AgentResult]) -> None:
        status = await wait_for_state(handle, RunState.ESCALATED)
        assert status.escalation is not None and status.escalation.ticket_id
        await handle.signal(
            AgentWorkflow.human_reply, HumanReplySignal(responder="dan", text="Waive the fee.", resume=True)
        )

    script = [
        ESCALATE,
        calls(call("search_knowledge_base", query="fees")),
        answer("Fee waived, ticket kept."),
    ]
    result, _ = await harness.run("escalate then resume", script, max_turns=2, during=guide)
    assert result.status == RunState.COMPLETED and result.turns == 3  # beyond max_turns=2: a fresh budget
    assert result.answer == "Fee waived, ticket kept." and result.answered_by is None


async def test_escalation_deadline_ends_unresolved(harness: Harness) -> None:
    result, _ = await harness.run("nobody replies", [ESCALATE])
    assert result.status == RunState.ESCALATED_UNRESOLVED and result.stop_reason == "escalation_timeout"
    assert "nobody answered within 72 hours" in result.answer


@pytest.mark.parametrize(
    ("task", "trigger"),
    [
        ("I want to speak to a manager about pay_ABC123", "customer_request"),
        ("This is unacceptable!!! Fix pay_ABC123 now", "customer_anger"),
    ],
)
async def test_customer_words_escalate_before_the_model_runs(
    harness: Harness, task: str, trigger: str
) -> None:
    async def reply(handle: WorkflowHandle[Any, AgentResult]) -> None:
        await wait_for_state(handle, RunState.ESCALATED)
        await handle.signal(
            AgentWorkflow.human_reply, HumanReplySignal(responder="erin", text="Called the merchant.")
        )

    result, history = await harness.run(task, [answer("unused")], during=reply)
    assert result.escalation is not None and result.escalation.trigger == trigger
    assert scheduled_activities(history) == [
        "tool.merchant_support.escalate_to_human"
    ]  # no model call at all
    assert result.status == RunState.COMPLETED and result.answered_by == "erin"


async def test_repeated_tool_failure_escalates(harness: Harness) -> None:
    first = calls(call("get_transaction", transaction_id="pay_NOPE998"))
    second = calls(call("get_transaction", transaction_id="pay_NOPE999"))
    result, _ = await harness.run("two failures", [first, second, answer("unused")])
    assert result.escalation is not None and result.escalation.trigger == "repeated_failure"
    assert result.status == RunState.ESCALATED_UNRESOLVED


async def test_bad_signal_payloads_are_rejected_and_audited(harness: Harness) -> None:
    async def noise_then_approve(handle: WorkflowHandle[Any, AgentResult]) -> None:
        status = await wait_for_pending(handle)
        await handle.signal(AgentWorkflow.approve, {"call_id": "t1-1"})  # no approver
        await handle.signal(AgentWorkflow.approve, {"call_id": 7, "approver": ["x"]})  # wrong types
        await handle.signal(
            AgentWorkflow.deny, {"call_id": "t1-1", "approver": "m", "reason": "x" * 1_000_000}
        )
        await handle.signal(AgentWorkflow.human_reply, {"responder": "zed", "text": "hello"})  # not escalated
        await handle.signal(AgentWorkflow.approve, "not even an object")
        await handle.signal(
            AgentWorkflow.approve,
            ApproveSignal(call_id="t1-1", approver="alice", args_sha256=status.pending[0].args_sha256),
        )

    result, _ = await harness.run(
        "noisy approvals", [calls(REFUND), answer("Refunded.")], during=noise_then_approve
    )
    assert result.status == RunState.COMPLETED and result.tool_calls[0].approved_by == "alice"
    rejected = [a for a in result.audit if a.event == "rejected"]
    assert len(rejected) == 5
    assert all(a.reason and len(a.reason) <= 300 for a in rejected)
    assert any("approver" in (a.reason or "") for a in rejected)
    assert any("not escalated" in (a.reason or "") for a in rejected)


async def test_decide_update_answers_synchronously(harness: Harness) -> None:
    async def decide(handle: WorkflowHandle[Any, AgentResult]) -> None:
        status = await wait_for_pending(handle)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                "decide", DecideUpdate(call_id="t9-9", approver="a", verdict="approve")
            )
        assert "not pending" in str(refused.value.cause)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                AgentWorkflow.decide, DecideUpdate(call_id="t1-1", approver="a", verdict="deny")
            )
        accepted = await handle.execute_update(
            "decide",
            DecideUpdate(
                call_id="t1-1", approver="alice", verdict="approve", args_sha256=status.pending[0].args_sha256
            ),
            result_type=dict,
        )
        assert accepted["accepted"] is True

    result, _ = await harness.run("decide by update", [calls(REFUND), answer("Refunded.")], during=decide)
    assert result.tool_calls[0].approved_by == "alice"


async def test_a_day_long_wait_survives_a_worker_restart(harness: Harness) -> None:
    queue = "tq-restart"
    provider = scripted_provider({"restart": [calls(REFUND), answer("unused")]})
    request = AgentRequest(task="restart while waiting", limits=AgentLimits(escalation_timeout_s=3600))
    async with strict_worker(harness.env.client, queue, provider, harness.store):
        handle = await harness.env.client.start_workflow(
            "AgentWorkflow", request, id="restart-wait", task_queue=queue, result_type=AgentResult
        )
        await wait_for_pending(handle)
    # No worker now: the waiting run holds no slot anywhere. Hours pass (the test server will not
    # skip past a timer whose workflow task nobody can run, so stop before the 12 h reminder).
    await harness.env.sleep(timedelta(hours=11))
    async with strict_worker(harness.env.client, queue, provider, harness.store):
        result = await handle.result()
    assert result.tool_calls[0].outcome == ToolOutcome.DENIED
    assert result.status == RunState.ESCALATED_UNRESOLVED
    assert [a.event for a in result.audit][:3] == ["requested", "reminder", "timeout"]
    assert json.loads(result.tool_calls[0].observation)["error_type"] == "PermissionDeniedError"
