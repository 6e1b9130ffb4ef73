"""Record workflow histories for the replay tests: `python -m tests.record_histories`.

Run it only when a workflow change is meant to be incompatible (and then behind
`workflow.patched`): never re-record to make a failing replay test pass.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import ScriptBook, ScriptedReply, ScriptedToolCall, ScriptedTransport
from agents.merchant_support import Store
from client import AgentClient
from client.conversations import ConversationClient
from core.agent import AgentEnv
from core.apps import opened_deps
from core.models import (
    AgentRequest,
    AgentResult,
    ApproveSignal,
    DenySignal,
    HumanReplySignal,
    RunState,
    RunStatus,
)
from core.worker_options import worker_options
from tests.conftest import (
    BIN,
    DEMO,
    SCRIPTED_URL,
    SHOP,
    Harness,
    register_search_attributes,
    result_or_task_failure,
)
from tests.plan_agent import ScriptedPlanner, planning_agent, step
from worker import build_worker
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
    # The critic states the hidden refund under the answer at once (patch critic-send-back-policy).
    "critic_states_facts": (
        "critic states facts",
        [LOOKUPS, REFUND, ScriptedReply(content="Done.")],
        _approve,
    ),
    "escalated": (
        "escalate",
        [_call("escalate_to_human", reason="merchant asks for a manager", summary="wants a manager")],
        None,
    ),
}


# The shop agent's scenarios run on its stand-in model (agents/shop/stand_in.py), against its own store.
SHOP_SCENARIOS: dict[
    str, tuple[str, Callable[[WorkflowHandle[Any, AgentResult]], Awaitable[None]] | None]
] = {
    "stock_and_shipping": ("Is the kettle KET-200 in stock, and when would it arrive in 10115 Berlin?", None),
    "return_approved": (
        "My order ORD-1001 arrived but I do not want it anymore, please return it.",
        _approve,
    ),
    "return_denied": ("My order ORD-1001 arrived but I do not want it anymore, please return it.", _deny),
}


async def record_shop(env: WorkflowEnvironment) -> None:
    for name, (task, during) in SHOP_SCENARIOS.items():
        path = HISTORIES / f"{SHOP.name}.{name}.json"
        if path.exists():
            continue
        async with opened_deps([SHOP], AgentEnv(Path(tempfile.mkdtemp()))) as deps:
            queue = f"record-{name}"
            provider = OpenAIProvider(
                SCRIPTED_URL,
                default_model="scripted",
                transport=ScriptedTransport(ScriptBook({}, SHOP.stand_in)),
            )
            options = worker_options({}, strict=True)
            async with build_worker(env.client, queue, [SHOP], provider, deps, **options):
                handle = await AgentClient(env.client, queue).start(
                    AgentRequest(task=task, agent=SHOP.name, user_id="tester"), workflow_id=f"recorded-{name}"
                )
                if during is not None:
                    await during(handle)
                result = await result_or_task_failure(handle)
                history = await handle.fetch_history()
        path.write_text(history.to_json())
        print(f"{SHOP.name}.{name}: {result.status.value}, {len(history.events)} events")


# A conversation: a lookup, "refund that one" (approved) on a cached read, a cached account lookup.
CONVERSATION = f"{DEMO.name}.conversation_followups"  # the thread id is the history's name


async def record_conversation(env: WorkflowEnvironment) -> None:
    path = HISTORIES / f"{CONVERSATION}.json"
    if path.exists():
        return
    async with opened_deps([DEMO], AgentEnv(Path(tempfile.mkdtemp()))) as deps:
        queue = "record-conversation"
        transport = ScriptedTransport(ScriptBook({}, DEMO.stand_in))
        provider = OpenAIProvider(SCRIPTED_URL, default_model="scripted", transport=transport)
        async with build_worker(env.client, queue, [DEMO], provider, deps, **worker_options({}, strict=True)):
            chats = ConversationClient(env.client, queue)
            opened = await chats.open(CONVERSATION, agent=DEMO.name, user_id="MID001")
            await chats.send(CONVERSATION, "Please look up payment pay_ABC124 and the account of MID001.")
            asked = await chats.send(CONVERSATION, "Refund that one, please.", wait=False)
            for _ in range(600):
                status = await chats.status(CONVERSATION)
                if status.pending:
                    break
                await asyncio.sleep(0.05)
            item = status.pending[0]
            approval = ApproveSignal(call_id=item.call_id, approver="alice", args_sha256=item.args_sha256)
            await chats.approve(CONVERSATION, approval)
            await chats.await_reply(CONVERSATION, asked.message_id)
            await chats.send(CONVERSATION, "Is that merchant account still active?")
            await chats.close(CONVERSATION)
            result = await opened.result()
            history = await opened.fetch_history()
    path.write_text(history.to_json())
    print(f"{CONVERSATION}: {result.handled} messages, {len(history.events)} events")


# Plan mode: a planner that misnames a read-only tool (its arguments fit that tool only), is told, and
# corrects itself; a run from before plan steps' names were resolved by their arguments.
PLAN_NAME_CORRECTED = "planner_test.name_corrected"


async def record_plan(env: WorkflowEnvironment) -> None:
    path = HISTORIES / f"{PLAN_NAME_CORRECTED}.json"
    if path.exists():
        return
    agent = planning_agent()
    planner = ScriptedPlanner(
        [step("s1", "findaccount", owner="Ada")], [step("s1", "find_account", owner="Ada")]
    )
    transport = ScriptedTransport(ScriptBook({}, planner))
    provider = OpenAIProvider(SCRIPTED_URL, default_model="scripted", transport=transport)
    deps: dict[str, Any] = {agent.name: Counter()}
    async with build_worker(
        env.client, "record-plan", [agent], provider, deps, **worker_options({}, strict=True)
    ):
        handle = await AgentClient(env.client, "record-plan").start(
            AgentRequest(task="Find Ada's account.", agent=agent.name, user_id="tester"),
            workflow_id="recorded-plan-name-corrected",
        )
        result = await result_or_task_failure(handle)
        history = await handle.fetch_history()
    path.write_text(history.to_json())
    print(f"{PLAN_NAME_CORRECTED}: {result.status.value}, {result.turns} turns, {len(history.events)} events")


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
        await record_shop(env)
        await record_conversation(env)
        await record_plan(env)


if __name__ == "__main__":
    asyncio.run(main())
