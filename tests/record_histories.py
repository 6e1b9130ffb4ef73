"""Record workflow histories for the replay tests: `python -m tests.record_histories`.

Run it only when a workflow change is meant to be incompatible (and then behind
`workflow.patched`): never re-record to make a failing replay test pass.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.llm.scripted import ScriptedReply, ScriptedToolCall
from agents.merchant_support import Store
from core.models import AgentResult, ApproveSignal, DenySignal, HumanReplySignal, RunState, RunStatus
from tests.conftest import BIN, DEMO, Harness, register_search_attributes
from workflows.agent import AgentWorkflow

HISTORIES = Path(__file__).parent / "histories"
Scenario = tuple[
    str, list[ScriptedReply], Callable[[WorkflowHandle[Any, AgentResult]], Awaitable[None]] | None
]


def _call(name: str, **arguments: Any) -> ScriptedReply:
    return ScriptedReply(tool_calls=[ScriptedToolCall(name=name, arguments=arguments)])


REFUND = _call(
    "initiate_refund", transaction_id="pay_ABC124", amount="49.99", currency="USD", reason="duplicate"
)
LOOKUPS = ScriptedReply(
    tool_calls=[
        ScriptedToolCall(name="get_transaction", arguments={"transaction_id": "pay_ABC123"}),
        ScriptedToolCall(name="get_merchant_account", arguments={"merchant_id": "MID001"}),
    ]
)


async def _pending(handle: WorkflowHandle[Any, AgentResult]) -> RunStatus:
    while True:
        status: RunStatus = await handle.query(AgentWorkflow.status)
        if status.pending:
            return status
        await asyncio.sleep(0.05)


async def _approve(handle: WorkflowHandle[Any, AgentResult]) -> None:
    item = (await _pending(handle)).pending[0]
    approval = ApproveSignal(call_id=item.call_id, approver="alice", args_sha256=item.args_sha256)
    await handle.signal(AgentWorkflow.approve, approval)


async def _deny(handle: WorkflowHandle[Any, AgentResult]) -> None:
    item = (await _pending(handle)).pending[0]
    await handle.signal(
        AgentWorkflow.deny, DenySignal(call_id=item.call_id, approver="bob", reason="not a duplicate")
    )


async def _wait_until(handle: WorkflowHandle[Any, AgentResult], ready: Callable[[RunStatus], bool]) -> None:
    for _ in range(600):
        if ready(await handle.query(AgentWorkflow.status)):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the recorded run never reached the expected state")


async def _wait_escalated(handle: WorkflowHandle[Any, AgentResult]) -> None:
    await _wait_until(handle, lambda s: s.state == RunState.ESCALATED)


async def _resume(handle: WorkflowHandle[Any, AgentResult]) -> None:
    await _wait_escalated(handle)
    await handle.signal(
        AgentWorkflow.human_reply, HumanReplySignal(responder="dan", text="Waive the fee.", resume=True)
    )


async def _timeout_then_reply(handle: WorkflowHandle[Any, AgentResult]) -> None:
    await _wait_until(handle, lambda s: bool(s.pending))
    await ENV_SLEEP(timedelta(hours=25))
    await _wait_escalated(handle)
    await handle.signal(
        AgentWorkflow.human_reply, HumanReplySignal(responder="carol", text="Handled offline.")
    )


ESCALATE = _call("escalate_to_human", reason="policy unclear", summary="fee dispute")
ENV_SLEEP: Callable[[timedelta], Awaitable[None]]

SCENARIOS: dict[str, Scenario] = {
    "escalation_resumed": (
        "escalation resumed",
        [ESCALATE, _call("search_knowledge_base", query="fees"), ScriptedReply(content="Fee waived (esc).")],
        _resume,
    ),
    "approval_timeout_escalated": ("approval timeout escalated", [REFUND], _timeout_then_reply),
    "refund_approved": ("refund approved", [LOOKUPS, REFUND, ScriptedReply(content="Refunded.")], _approve),
    "refund_denied": ("refund denied", [LOOKUPS, REFUND, ScriptedReply(content="Not refunded.")], _deny),
    "routing_rejections": (
        "routing rejections",
        [
            _call("get_transactoin", transaction_id="pay_ABC123"),
            _call("get_transaction", transaction_id="x"),
            ScriptedReply(content='<tool_call>{"name": '),
            ScriptedReply(content="Sorry."),
        ],
        None,
    ),
    "max_turns": ("max turns", [_call("search_knowledge_base", query="refund")] * 9, None),
    "refund_precheck_and_critic": (
        "refund precheck and critic",
        [LOOKUPS, REFUND, ScriptedReply(content="Done."), ScriptedReply(content="Done, really.")],
        _approve,
    ),
    "escalated": (
        "escalate",
        [_call("escalate_to_human", reason="merchant asks for a manager", summary="wants a manager")],
        None,
    ),
}


async def main() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"), data_converter=pydantic_data_converter
    )
    await register_search_attributes(env.client)
    global ENV_SLEEP
    ENV_SLEEP = env.sleep
    async with env:
        for name, (task, script, during) in SCENARIOS.items():
            path = HISTORIES / f"{DEMO.name}.{name}.json"  # <agent>.<scenario>
            if path.exists():
                continue  # recorded once, kept forever: old histories are what replay protects
            harness = Harness(env, Store.open(tempfile.mkdtemp()))
            result, history = await harness.run(task, script, during=during, workflow_id=f"recorded-{name}")
            path.write_text(history.to_json())
            print(f"{name}: {result.status.value}, {len(history.events)} events")


if __name__ == "__main__":
    asyncio.run(main())
