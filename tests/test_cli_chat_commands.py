"""`starter.py chat`'s slash commands over a live worker: /help, /status, /approve a call that a
message sent elsewhere waits on, /deny's usage, an unknown command told and never sent."""

from __future__ import annotations

from collections.abc import Iterator

from temporalio.testing import WorkflowEnvironment

from agents.merchant_support import Store
from cli import chat
from cli.chat_commands import HELP
from cli.errors import EXIT_OK
from tests.conftest import DEMO
from tests.conversation_support import chat_worker, thread, wait_pending, within


def _lines(*typed: str) -> chat.Ask:
    said: Iterator[str] = iter(typed)

    async def ask(prompt: str) -> str:
        return next(said)

    return ask


async def test_a_call_waiting_on_a_message_sent_elsewhere_is_approved_with_a_slash_command(
    env: WorkflowEnvironment, store: Store
) -> None:
    thread_id, out = thread(), list[str]()
    async with chat_worker(env, store) as worker:
        chats = worker.chats
        await chats.open(thread_id, agent=DEMO.name, user_id="MID001")
        await within(chats.send(thread_id, "Please look up payment pay_ABC124."))
        asked = await within(chats.send(thread_id, "Refund that one, please.", wait=False))
        item = await wait_pending(chats, thread_id)
        ask = _lines("/help", "/bogus", "/deny", "/status", f"/approve {item.call_id} checked", "/quit")
        code, data = await within(chat.chat(chats, thread_id, out.append, ask, "carol"))
        answered = await within(chats.await_reply(thread_id, asked.message_id))
        await chats.close(thread_id)
    assert (code, data["messages"], data["closed"]) == (EXIT_OK, 0, False)  # no slash line was sent
    assert all(line in out for line in HELP)
    assert "unknown command /bogus (/help lists them)" in out
    assert "usage: /approve CALL [REASON] or /deny CALL REASON" in out
    assert any(item.call_id in line and "waits for approval" in line for line in out), "\n".join(out)
    assert f"approved initiate_refund ({item.call_id})" in out
    assert "Refund re_" in answered.answer
    assert [c.approved_by for c in answered.tool_calls if c.tool == "initiate_refund"] == ["carol"]
