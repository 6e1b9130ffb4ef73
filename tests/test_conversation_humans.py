"""Humans inside a conversation, as in a single run: an escalation waits for a reply that answers the
message, a denied call is not made, and the conversation goes on after both."""

from __future__ import annotations

import asyncio

from temporalio.testing import WorkflowEnvironment

from agents.merchant_support import Store
from core.models import DenySignal, HumanReplySignal, RunState, ToolOutcome
from tests.conftest import DEMO
from tests.conversation_support import chain, chat_worker, scheduled, thread, wait_pending, within
from workflows.conversation import ConversationWorkflow


async def test_an_escalation_is_answered_by_a_human_and_the_conversation_goes_on(
    env: WorkflowEnvironment, store: Store
) -> None:
    thread_id = thread()
    async with chat_worker(env, store) as chat:
        chats = chat.chats
        opened = await chats.open(thread_id, agent=DEMO.name, user_id="MID001")
        asked = await within(
            chats.send(thread_id, "I want to speak to a manager about pay_ABC125.", wait=False)
        )
        for _ in range(400):
            page = await chats.handle(thread_id).query(ConversationWorkflow.progress, 0)
            if page.state == RunState.ESCALATED:
                break
            await asyncio.sleep(0.05)
        await chats.reply(
            thread_id, HumanReplySignal(responder="dan", text="Dan here: I will call you today.")
        )
        answered = await within(chats.await_reply(thread_id, asked.message_id))
        after = await within(chats.send(thread_id, "Look up pay_ABC125."))
        await chats.close(thread_id)
        await within(opened.result())
    assert page.state == RunState.ESCALATED and page.escalation is not None
    assert (answered.outcome, answered.answer) == (RunState.COMPLETED, "Dan here: I will call you today.")
    assert after.outcome == RunState.COMPLETED and "pay_ABC125" in after.answer


async def test_a_denied_call_is_not_made(env: WorkflowEnvironment, store: Store) -> None:
    thread_id = thread()
    refunds_before = await store.count("refunds")
    async with chat_worker(env, store) as chat:
        chats = chat.chats
        opened = await chats.open(thread_id, agent=DEMO.name, user_id="MID001")
        await within(chats.send(thread_id, "Please look up payment pay_ABC125."))
        asked = await within(chats.send(thread_id, "Refund that one.", wait=False))
        pending = await wait_pending(chats, thread_id)
        await chats.deny(
            thread_id, DenySignal(call_id=pending.call_id, approver="bob", reason="not a duplicate")
        )
        denied = await within(chats.await_reply(thread_id, asked.message_id))
        await chats.close(thread_id)
        await within(opened.result())
        histories = await chain(env.client, thread_id, opened.first_execution_run_id)
    calls = [c for c in denied.tool_calls if c.tool == "initiate_refund"]
    assert [c.outcome for c in calls] == [ToolOutcome.DENIED] and denied.outcome == RunState.DENIED
    assert "tool.merchant_support.initiate_refund" not in scheduled(histories)
    assert await store.count("refunds") == refunds_before
