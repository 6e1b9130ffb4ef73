"""`chat [--thread ID] [--agent NAME]` and `send THREAD "text"`: a conversation from the terminal.

Each line is a message (or a slash command: cli/chat_commands.py); progress shows live (cached
lookups marked), and an approval the agent asks for is decided inline. `send` sends one message
and prints the answer (`--no-wait`: its id).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from cli.chat_commands import run_command
from cli.errors import EXIT_BY_STATE, EXIT_OK, CliError
from cli.render import approve_commands, event_lines
from client.conversations import ConversationClient
from core.conversation import ConversationClosedError, MessageReply
from core.errors import AgentError
from core.models import ApproveSignal, DenySignal, PendingApproval
from workflows.conversation import ConversationWorkflow

Emit = Callable[[str], None]
Ask = Callable[[str], Awaitable[str]]
POLL_SECONDS = 0.3
QUIT = ("/quit", "/exit")
CLOSE = "/close"


async def send(
    chats: ConversationClient, thread_id: str, text: str, emit: Emit, *, wait: bool = True, **opening: Any
) -> tuple[int, dict[str, Any]]:
    await _open(chats, thread_id, **opening)
    if not wait:
        reply = await _typed(chats.send(thread_id, text, wait=False))
        return EXIT_OK, reply.model_dump(mode="json")
    reply = await follow(chats, thread_id, text, emit, ask=None, approver=None)
    return EXIT_BY_STATE.get(reply.outcome, EXIT_OK) if reply.outcome else EXIT_OK, reply.model_dump(
        mode="json"
    )


async def chat(
    chats: ConversationClient, thread_id: str | None, emit: Emit, ask: Ask, approver: str, **opening: Any
) -> tuple[int, dict[str, Any]]:
    """Lines until /quit (the conversation stays open) or /close (it ends and is remembered)."""
    thread_id = thread_id or f"chat-{uuid.uuid4().hex[:10]}"
    await _open(chats, thread_id, **opening)
    emit(f"conversation {thread_id} (/help lists commands, /close ends it, /quit leaves it open)")
    handled = 0
    while True:
        line = (await ask("you> ")).strip()
        if line in QUIT or line == CLOSE:
            if line == CLOSE:
                await chats.close(thread_id, by=approver, reason="closed from the CLI")
            return EXIT_OK, {"thread_id": thread_id, "messages": handled, "closed": line == CLOSE}
        if not line:
            continue
        if line.startswith("/"):
            await run_command(chats, thread_id, line, emit, approver)
            continue
        try:
            reply = await follow(chats, thread_id, line, emit, ask=ask, approver=approver)
        except CliError as err:
            emit(f"error ({err.kind}): {err.message}")
            if err.kind == ConversationClosedError.__name__:
                return err.code, {"thread_id": thread_id, "messages": handled, "closed": True}
            continue
        handled += 1
        emit(f"agent> {reply.answer}")


async def follow(
    chats: ConversationClient, thread_id: str, text: str, emit: Emit, *, ask: Ask | None, approver: str | None
) -> MessageReply:
    """Send, print progress until answered, and decide approvals inline when `ask` is given."""
    handle, decided = chats.handle(thread_id), set[str]()
    seq = (await handle.query(ConversationWorkflow.progress, 1 << 62)).next_seq  # this message's on
    sent = await _typed(chats.send(thread_id, text, wait=False))
    answer = asyncio.ensure_future(_typed(chats.await_reply(thread_id, sent.message_id)))
    try:
        while True:
            finished = answer.done()  # read before the page: its last events are shown too
            page = await handle.query(ConversationWorkflow.progress, seq)
            for event in page.events:
                for line in event_lines(event):
                    emit(line)
            seq = page.next_seq
            if finished:
                return answer.result()
            for item in page.pending:
                if item.call_id not in decided:
                    decided.add(item.call_id)
                    await _decide(chats, thread_id, item, emit, ask, approver)
            await asyncio.wait({answer}, timeout=POLL_SECONDS)
    finally:
        answer.cancel()


async def _decide(
    chats: ConversationClient,
    thread_id: str,
    item: PendingApproval,
    emit: Emit,
    ask: Ask | None,
    approver: str | None,
) -> None:
    emit(f"  ⏸ {item.tool} {item.args} needs approval (call {item.call_id})")
    if ask is None or approver is None:
        emit(
            f"    approve with: {approve_commands(thread_id, item)[-1]}"
        )  # the conversation's `approve` signal
        return
    verdict = (await ask("    approve? [y/N] ")).strip().lower()
    if verdict in ("y", "yes"):
        await chats.approve(
            thread_id, ApproveSignal(call_id=item.call_id, approver=approver, args_sha256=item.args_sha256)
        )
    else:
        await chats.deny(
            thread_id, DenySignal(call_id=item.call_id, approver=approver, reason="denied in chat")
        )


async def _open(chats: ConversationClient, thread_id: str, **opening: Any) -> None:
    try:
        await chats.open(thread_id, **opening)
    except AgentError as err:
        raise CliError(err.type_name, err.message) from None


async def _typed(step: Awaitable[MessageReply]) -> MessageReply:
    try:
        return await step
    except AgentError as err:
        raise CliError(err.type_name, err.message) from None
