"""ConversationWorkflow end to end on the production worker options and the agent's stand-in model:
follow-ups that act on what was said before, cached lookups with no second activity, approvals inside
a conversation, messages sent at once answered exactly once, queue and merge, close and idle timeout."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities.llm.scripted import ScriptedReply
from agents.merchant_support import Store
from agents.merchant_support.chat_stand_in import ChatPolicy
from core.conversation import ConversationPolicy, MessageReply, ReplyStatus
from core.models import ApproveSignal, RunState, ToolOutcome
from core.progress import ProgressKind
from tests.conftest import DEMO
from tests.conversation_support import chain, chat_worker, scheduled, thread, wait_pending, within
from workflows.conversation import ConversationWorkflow

LOOKUP = "Please look up payment pay_ABC124 and the account of MID001."


async def test_follow_ups_act_on_the_right_id_and_reuse_cached_lookups(
    env: WorkflowEnvironment, store: Store
) -> None:
    thread_id = thread()
    async with chat_worker(env, store) as chat:
        chats = chat.chats
        opened = await chats.open(thread_id, agent=DEMO.name, user_id="MID001")
        first = await within(chats.send(thread_id, LOOKUP))
        asked = await within(chats.send(thread_id, "Refund that one, please.", wait=False))
        pending = await wait_pending(chats, thread_id)
        assert (pending.tool, pending.args["transaction_id"]) == ("initiate_refund", "pay_ABC124")
        sha = pending.args_sha256
        await chats.approve(
            thread_id, ApproveSignal(call_id=pending.call_id, approver="alice", args_sha256=sha)
        )
        second = await within(chats.await_reply(thread_id, asked.message_id))
        third = await within(chats.send(thread_id, "Is that merchant account still active?"))
        # The refund wrote to pay_ABC124: its cached read is stale, so this one runs again.
        fourth = await within(chats.send(thread_id, "Look up pay_ABC124 again."))
        page = await chats.handle(thread_id).query(ConversationWorkflow.progress, 0)
        await chats.close(thread_id)
        result = await within(opened.result())
        histories = await chain(env.client, thread_id, opened.first_execution_run_id)
    assert first.status == ReplyStatus.ANSWERED and "pay_ABC124" in first.answer and "MID001" in first.answer
    assert asked.status == ReplyStatus.ACCEPTED and second.message_id == asked.message_id
    refunds = [c for c in second.tool_calls if c.tool == "initiate_refund"]
    assert len(refunds) == 1 and refunds[0].outcome == ToolOutcome.OK and refunds[0].approved_by == "alice"
    assert refunds[0].args["transaction_id"] == "pay_ABC124"
    assert refunds[0].result["refund_id"] in second.answer and second.outcome == RunState.COMPLETED
    assert [c.tool for c in second.tool_calls if c.cached] == ["get_transaction"]
    assert third.cached_calls == 1 and "MID001" in third.answer and "active" in third.answer
    assert fourth.cached_calls == 0 and "pay_ABC124" in fourth.answer
    cached = [e for e in page.events if e.kind == ProgressKind.CALL_END and e.detail == "cached"]
    assert [e.label for e in cached] == ["get_transaction", "get_merchant_account"]
    activities = scheduled(histories)
    assert activities.count("tool.merchant_support.get_merchant_account") == 1
    assert activities.count("tool.merchant_support.get_transaction") == 2  # the first, and after the refund
    assert activities.count("tool.merchant_support.initiate_refund") == 1
    assert (result.handled, result.episode_stored) == (4, True)
    assert result.close_reason.startswith("closed by user")


async def test_messages_sent_at_once_are_each_answered_exactly_once(
    env: WorkflowEnvironment, store: Store
) -> None:
    thread_id = thread()
    payments = [f"pay_ABC12{n}" for n in range(3, 8)]
    async with chat_worker(env, store) as chat:
        chats = chat.chats
        opened = await chats.open(thread_id, agent=DEMO.name, user_id="MID001")
        sent = await within(
            asyncio.gather(*(chats.send(thread_id, f"Look up {p}.", wait=False) for p in payments))
        )
        replies = await within(asyncio.gather(*(chats.await_reply(thread_id, s.message_id) for s in sent)))
        again = await within(chats.send(thread_id, "Look up pay_ABC123.", message_id="client-7"))
        retried = await within(chats.send(thread_id, "Look up pay_ABC123.", message_id="client-7"))
        await chats.close(thread_id)
        result = await within(opened.result())
        histories = await chain(env.client, thread_id, opened.first_execution_run_id)
    assert len({s.message_id for s in sent}) == len(payments)
    for reply, payment in zip(replies, payments, strict=True):
        # Each answer is its own message's: the ids were never crossed or handled twice.
        assert reply.status == ReplyStatus.ANSWERED and payment in reply.answer
    assert retried == again and result.handled == len(payments) + 1
    # Two model calls per message (look up, answer): none handled twice, the retried send not at all.
    assert scheduled(histories).count("llm.complete") == 2 * (len(payments) + 1)


class _SlowFirst(ChatPolicy):
    """The stand-in, slow on the first message: the next ones arrive while it is handled."""

    def reply(self, messages: list[dict[str, Any]], tool_names: set[str]) -> ScriptedReply:
        found = super().reply(messages, tool_names)
        first = "pay_ABC123" in str(messages[-1].get("content")) and "[Recent" not in str(messages)
        return found.model_copy(update={"delay_s": 1.0}) if first else found


async def test_merge_policy_joins_messages_that_waited(env: WorkflowEnvironment, store: Store) -> None:
    merging = dataclasses.replace(DEMO, conversation=ConversationPolicy(double_texting="merge"))
    thread_id = thread()
    async with chat_worker(env, store, agent=merging, policy=_SlowFirst()) as chat:
        chats = chat.chats
        opened = await chats.open(thread_id, agent=DEMO.name, user_id="MID001")
        first = await within(chats.send(thread_id, "Look up pay_ABC123.", wait=False))
        await asyncio.sleep(0.3)  # the first is being handled (its model call takes a second)
        later = [await within(chats.send(thread_id, t, wait=False)) for t in ("Hello?", "Anyone there?")]
        ids = [first.message_id, *(s.message_id for s in later)]
        replies: list[MessageReply] = [await within(chats.await_reply(thread_id, i)) for i in ids]
        page = await chats.handle(thread_id).query(ConversationWorkflow.progress, 0)
        await chats.close(thread_id)
        result = await within(opened.result())
    assert replies[0].merged_with == () and "pay_ABC123" in replies[0].answer
    assert replies[1].merged_with == (ids[2],) and replies[2].merged_with == (ids[1],)
    assert replies[1].answer == replies[2].answer
    assert sum(1 for e in page.events if e.kind == ProgressKind.ENDED) == 2  # two turns for three messages
    assert result.handled == 3


async def test_idle_timeout_closes_the_conversation_and_stores_its_episode(
    env: WorkflowEnvironment, store: Store
) -> None:
    thread_id = thread()
    async with chat_worker(env, store) as chat:
        opened = await chat.chats.open(thread_id, agent=DEMO.name, user_id="MID001", idle_timeout_s=600)
        await within(chat.chats.send(thread_id, "Look up pay_ABC125."))
        result = await within(opened.result())  # the test server skips the idle time
    assert (result.close_reason, result.handled, result.episode_stored) == ("idle_timeout", 1, True)


async def test_a_loop_ends_the_message_not_the_conversation(env: WorkflowEnvironment, store: Store) -> None:
    lookup = ScriptedReply(
        tool_calls=[{"name": "get_transaction", "arguments": {"transaction_id": "pay_ABC123"}}]
    )
    thread_id = thread()
    async with chat_worker(env, store, scripts={"check again and again": [lookup] * 6}) as chat:
        chats = chat.chats
        opened = await chats.open(thread_id, agent=DEMO.name, user_id="MID001")
        looping = await within(chats.send(thread_id, "Please check again and again pay_ABC123."))
        await chats.close(thread_id)
        result = await within(opened.result())
    assert looping.outcome == RunState.LOOP_DETECTED and result.handled == 1
