"""The demo case end to end on the real embedded model (Qwen2.5-Coder-1.5B via xllamacpp).

Asserts structure, not wording: the run ends completed (by the model's answer, or by the operator's
reply to an escalation), and the refund was stored exactly once, after a human approved it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle

from activities.llm.factory import open_provider
from agents.merchant_support import Store
from cli.demo import DEMO_TASK, OPERATOR_REPLY
from core.config import Settings
from core.models import (
    FINAL_STATES,
    AgentResult,
    ApproveSignal,
    HumanReplySignal,
    RunState,
    RunStatus,
    ToolOutcome,
)
from tests.conftest import Harness
from workflows.agent import AgentWorkflow

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(os.environ.get("AGENT_SKIP_LOCAL_MODEL") == "1", reason="AGENT_SKIP_LOCAL_MODEL=1"),
]
MODEL_DIR = Path(os.environ.get("AGENT_DATA_DIR", ".data"))
RECORDED = Path(__file__).resolve().parents[1] / "histories" / "merchant_support.demo_local_model.json"
RUN_DEADLINE_S = 480  # 8 turns of a 1.5B model on 2 cores, with margin


ATTEMPTS = 2  # a 1.5B model sometimes rambles until its turn budget ends; the safety checks hold every time


async def one_attempt(harness: Harness, provider: Any) -> AgentResult:
    """One demo run on a fresh store, acting as the demo operator; asserts the safety invariants."""
    refunds_before = await harness.store.count("refunds")
    approvals: list[str] = []
    replied: list[bool] = []

    async def operate(handle: WorkflowHandle[Any, AgentResult]) -> None:
        # The model may propose a refund at any turn; approve what it asks, as the demo operator does.
        deadline = asyncio.get_running_loop().time() + RUN_DEADLINE_S
        while asyncio.get_running_loop().time() < deadline:
            status: RunStatus = await handle.query(AgentWorkflow.status)
            if status.state == RunState.ESCALATED and not replied:
                # As the demo operator does: an escalation waits for a person, so answer it; the
                # reply ends the run as completed, answered by the operator.
                replied.append(True)
                reply = HumanReplySignal(responder="demo-operator", text=OPERATOR_REPLY)
                await handle.signal(AgentWorkflow.human_reply, reply)
            if status.state in FINAL_STATES:
                return
            for item in status.pending:
                if item.call_id not in approvals:
                    # Nothing is refunded without an approval: at most one refund per earlier approval.
                    assert await harness.store.count("refunds") <= refunds_before + len(approvals)
                    approvals.append(item.call_id)
                    signal = ApproveSignal(
                        call_id=item.call_id, approver="demo-operator", args_sha256=item.args_sha256
                    )
                    await handle.signal(AgentWorkflow.approve, signal)
            await asyncio.sleep(0.5)
        raise AssertionError(f"the run did not finish within {RUN_DEADLINE_S} s")

    result, history = await harness.run(DEMO_TASK, [], provider=provider, during=operate)
    if os.environ.get("AGENT_RECORD_HISTORY") == "1" and not RECORDED.exists():
        RECORDED.write_text(history.to_json())  # once, for the replay tests (tests/record_histories.py)
    if replied:  # the escalation was answered, not left to its deadline
        assert result.status == RunState.COMPLETED and result.answer == OPERATOR_REPLY, result
    for step in result.steps:
        print(f"turn {step.turn}: {step.actions} {step.thought[:200]!r}")
    refunds = [c for c in result.tool_calls if c.tool == "initiate_refund" and c.outcome == ToolOutcome.OK]
    assert len(refunds) == 1 and refunds[0].approved_by == "demo-operator"
    assert refunds[0].args["transaction_id"] in ("pay_ABC123", "pay_ABC124")
    assert await harness.store.count("refunds") == refunds_before + 1
    return result


async def test_demo_case_on_the_local_model(harness: Harness, tmp_path: Path) -> None:
    settings = Settings(llm_provider="local", data_dir=MODEL_DIR)
    statuses = []
    async with open_provider(settings) as provider:
        for attempt in range(ATTEMPTS):
            harness.store = Store.open(tmp_path / f"attempt{attempt}")
            result = await one_attempt(harness, provider)
            statuses.append(result.status)
            if result.status == RunState.COMPLETED:
                break
    assert statuses[-1] == RunState.COMPLETED, statuses
