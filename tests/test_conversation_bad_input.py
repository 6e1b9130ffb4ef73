"""Every bad input to a conversation gets its typed error (core/conversation.py), and nothing is queued."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from agents.merchant_support import Store
from client import AgentClient
from core.conversation import (
    ConversationClosedError,
    EmptyMessageError,
    MessageTooLargeError,
    ThreadIdError,
    ThreadIdTakenError,
    check_thread_id,
)
from core.errors import InvalidInputError, PayloadTooLargeError
from core.models import AgentRequest
from tests.conftest import DEMO, result_or_task_failure
from tests.conversation_support import chat_worker, thread, within
from tests.test_agent_workflow import wait_for_pending


@pytest.mark.parametrize("bad", ["", "a b", "a/b", "ünïcode", "x" * 129, "quote'", "-leading", "nul\x00"])
def test_thread_ids_the_stores_cannot_key_are_refused(bad: str) -> None:
    with pytest.raises(ThreadIdError) as raised:
        check_thread_id(bad)
    assert isinstance(raised.value, InvalidInputError)


async def test_bad_messages_get_typed_errors_and_are_never_queued(
    env: WorkflowEnvironment, store: Store
) -> None:
    thread_id = thread()
    async with chat_worker(env, store) as chat:
        chats = chat.chats
        opened = await chats.open(thread_id, agent=DEMO.name, user_id="MID001")
        with pytest.raises(EmptyMessageError):
            await within(chats.send(thread_id, "   \n"))
        with pytest.raises(MessageTooLargeError) as too_large:
            await within(chats.send(thread_id, "x" * (DEMO.conversation.max_message_chars + 1)))
        assert isinstance(too_large.value, PayloadTooLargeError)
        with pytest.raises(ThreadIdError):
            await within(chats.send("bad id", "hello"))
        status = await chats.status(thread_id)
        assert (status.handled, status.queued) == (0, ())
        await within(chats.send(thread_id, "Look up pay_ABC123."))
        await chats.close(thread_id)
        result = await within(opened.result())
        with pytest.raises(ConversationClosedError):
            await within(chats.send(thread_id, "one more thing"))
    assert result.handled == 1


async def test_a_single_runs_id_is_not_a_conversation(env: WorkflowEnvironment, store: Store) -> None:
    run_id = thread()
    async with chat_worker(env, store) as chat:
        runs = AgentClient(env.client, chat.queue)
        handle = await runs.start(AgentRequest(task="What is the status of pay_ABC125?"), workflow_id=run_id)
        await result_or_task_failure(handle)
        with pytest.raises(ThreadIdTakenError):
            await chat.chats.open(run_id, agent=DEMO.name)
        with pytest.raises(ThreadIdTakenError):
            await within(chat.chats.send(run_id, "hello"))


async def test_a_conversation_with_an_agent_nobody_serves_refuses_its_messages(
    env: WorkflowEnvironment, store: Store
) -> None:
    thread_id = thread()
    async with chat_worker(env, store) as chat:
        opened = await chat.chats.open(thread_id, agent="nobody_serves_me")
        result = await within(opened.result())
        with pytest.raises(ConversationClosedError):
            await within(chat.chats.send(thread_id, "hello"))
    assert result.refused is not None and "nobody_serves_me" in result.refused and result.handled == 0


async def test_a_running_single_run_keeps_its_id(env: WorkflowEnvironment, store: Store) -> None:
    run_id = thread()
    async with chat_worker(env, store) as chat:
        runs = AgentClient(env.client, chat.queue)
        handle = await runs.start(AgentRequest(task="Is pay_ABC123 a duplicate?"), workflow_id=run_id)
        await wait_for_pending(handle)  # the run waits for an approval: it is running
        try:
            with pytest.raises(ThreadIdTakenError):
                await within(chat.chats.send(run_id, "hello"))
            with pytest.raises(ThreadIdTakenError):
                await chat.chats.open(run_id, agent=DEMO.name)
        finally:
            await handle.terminate("the test is done with it")
