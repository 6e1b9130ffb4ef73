"""Slash commands of `starter.py chat`, typed at the `you>` prompt instead of a message.

    /status                the conversation's state, queue and the calls waiting for approval
    /approve CALL [REASON] approve a waiting call (bound to the hash of the arguments /status shows)
    /deny CALL REASON      deny it
    /help                  these lines
/close and /quit are the loop's own (cli/chat.py). A call waits here when its message was sent from
elsewhere (`send --no-wait`, the HTTP API); the chat's own messages ask inline.
"""

from __future__ import annotations

from collections.abc import Callable

from temporalio.client import WorkflowUpdateFailedError

from client.conversations import ConversationClient
from core.conversation import ConversationStatus
from core.models import DecideUpdate

Emit = Callable[[str], None]
HELP = (
    "/status                 the conversation's state and the calls waiting for approval",
    "/approve CALL [REASON]  approve a waiting call",
    "/deny CALL REASON       deny a waiting call",
    "/close                  end the conversation (it is remembered)",
    "/quit                   leave it open",
)


async def run_command(
    chats: ConversationClient, thread_id: str, line: str, emit: Emit, approver: str
) -> None:
    """Carry out one slash command; a wrong one is told, never sent as a message."""
    name, _, rest = line.partition(" ")
    if name == "/help":
        for text in HELP:
            emit(text)
    elif name == "/status":
        for text in status_lines(await chats.status(thread_id)):
            emit(text)
    elif name in ("/approve", "/deny"):
        await _decide(chats, thread_id, name == "/approve", rest.strip(), emit, approver)
    else:
        emit(f"unknown command {name} (/help lists them)")


def status_lines(status: ConversationStatus) -> list[str]:
    lines = [
        f"{status.thread_id}: {status.state.value}, {status.handled} message(s) answered, "
        f"run {status.run}, {status.spent.prompt_tokens + status.spent.completion_tokens} tokens",
    ]
    if status.queued:
        lines.append(f"  queued: {', '.join(status.queued)}")
    for item in status.pending:
        lines.append(f"  ⏸ {item.call_id} {item.tool} {item.args} waits for approval (until {item.deadline})")
    if not status.pending:
        lines.append("  no call waits for approval")
    return lines


async def _decide(
    chats: ConversationClient, thread_id: str, approve: bool, rest: str, emit: Emit, approver: str
) -> None:
    call_id, _, reason = rest.partition(" ")
    if not call_id or (not approve and not reason.strip()):
        emit("usage: /approve CALL [REASON] or /deny CALL REASON")
        return
    status = await chats.status(thread_id)
    item = next((p for p in status.pending if p.call_id == call_id), None)
    if item is None:
        waiting = ", ".join(p.call_id for p in status.pending) or "none"
        emit(f"call {call_id} is not waiting for approval (waiting: {waiting})")
        return
    decision = DecideUpdate(
        call_id=call_id,
        approver=approver,
        verdict="approve" if approve else "deny",
        reason=reason.strip() or None,
        args_sha256=item.args_sha256,
    )
    try:
        answered = await chats.decide(thread_id, decision)
    except WorkflowUpdateFailedError as err:  # decided meanwhile, expired: the validator says
        emit(f"refused: {err.cause}")
        return
    verb = "approved" if approve else "denied"
    emit(f"{verb} {item.tool} ({call_id})" if answered.accepted else f"call {call_id} was not accepted")
