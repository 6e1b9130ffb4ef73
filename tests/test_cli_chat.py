"""`starter.py chat` and `send` over a live worker: lines are messages, progress shows cached lookups,
an approval is decided inline, and bad input exits with its typed error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from agents.merchant_support import Store
from cli import chat
from cli.errors import EXIT_OK, EXIT_USAGE, CliError
from cli.main import main
from core.models import ApproveSignal
from tests.conftest import DEMO
from tests.conversation_support import chat_worker, thread, wait_pending, within


def _lines(*typed: str) -> tuple[list[str], chat.Ask]:
    said: Iterator[str] = iter(typed)
    asked: list[str] = []

    async def ask(prompt: str) -> str:
        asked.append(prompt)
        return next(said)

    return asked, ask


async def test_chat_answers_each_line_with_approvals_inline(env: WorkflowEnvironment, store: Store) -> None:
    out: list[str] = []
    asked, ask = _lines(
        "Please look up payment pay_ABC124 and the account of MID001.",
        "Refund that one, please.",
        "y",
        "Is that merchant account still active?",
        "/close",
    )
    thread_id = thread()
    async with chat_worker(env, store) as worker:
        opening: dict[str, Any] = {"agent": DEMO.name, "user_id": "MID001"}
        code, data = await within(chat.chat(worker.chats, thread_id, out.append, ask, "alice", **opening))
        result = await within(worker.chats.handle(thread_id).result())
    assert (code, data["messages"], data["closed"]) == (EXIT_OK, 3, True)
    assert "    approve? [y/N] " in asked
    answers = [line for line in out if line.startswith("agent> ")]
    assert len(answers) == 3 and "Refund re_" in answers[1] and "pay_ABC124" in answers[1]
    assert any("get_merchant_account (cached)" in line for line in out), "\n".join(out)
    assert result.handled == 3 and result.episode_stored


async def test_send_prints_the_answer_or_the_message_id(env: WorkflowEnvironment, store: Store) -> None:
    thread_id, out = thread(), list[str]()
    async with chat_worker(env, store) as worker:
        opening: dict[str, Any] = {"agent": DEMO.name, "user_id": "MID001"}
        code, answered = await within(
            chat.send(worker.chats, thread_id, "Look up pay_ABC125.", out.append, **opening)
        )
        _, queued = await within(
            chat.send(worker.chats, thread_id, "Look up pay_ABC126.", out.append, wait=False)
        )
        with pytest.raises(CliError) as empty:
            await within(chat.send(worker.chats, thread_id, " ", out.append))
        await worker.chats.close(thread_id)
    assert code == EXIT_OK and "pay_ABC125" in answered["answer"]
    assert queued["status"] == "accepted" and queued["message_id"]
    assert empty.value.kind == "EmptyMessageError"


def test_send_without_its_text_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "only-a-thread"]) == EXIT_USAGE
    assert "UsageError" in capsys.readouterr().err


async def test_send_shows_how_to_approve_and_waits_for_it(env: WorkflowEnvironment, store: Store) -> None:
    thread_id, out = thread(), list[str]()
    async with chat_worker(env, store) as worker:
        chats = worker.chats
        await within(
            chat.send(chats, thread_id, "Please look up payment pay_ABC124.", out.append, agent=DEMO.name)
        )
        sending = asyncio.ensure_future(chat.send(chats, thread_id, "Refund that one.", out.append))
        pending = await wait_pending(chats, thread_id)
        for _ in range(100):
            if any("approve with: temporal workflow signal" in line for line in out):
                break
            await asyncio.sleep(0.05)
        await chats.approve(
            thread_id,
            ApproveSignal(call_id=pending.call_id, approver="carol", args_sha256=pending.args_sha256),
        )
        code, answered = await within(sending)
        await chats.close(thread_id)
    hint = next(line for line in out if "approve with:" in line)
    assert f"--workflow-id {thread_id} --name approve" in hint and pending.args_sha256 in hint
    assert code == EXIT_OK and "Refund re_" in answered["answer"]
