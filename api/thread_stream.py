"""A message posted with `Accept: text/event-stream`: its progress, then its answer, as SSE.

    event: accepted   the message's id (MessageReply, status accepted), once it is queued
    event: progress   id = seq, the conversation's progress events from the send on (tool calls,
                      approvals waiting and decided, ...), as on GET /v1/runs/{id}/events
    event: answer     the MessageReply: the final event
    event: error      instead of the answer, if it cannot be had: {type, message}

The message is sent (and refused with a typed JSON 4xx) before the stream opens. Events are read
from the conversation's `progress` query every POLL_S while the answer is awaited by `await_reply`
(which follows the conversation across continue-as-new).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

from temporalio.client import RPCTimeoutOrCancelledError, WorkflowQueryFailedError
from temporalio.service import RPCError

from api.events import frame
from api.feeds import KEEPALIVE_S
from api.thread_bodies import ThreadMessage
from api.thread_service import Threads
from core import conversation as c
from core.errors import AgentError
from workflows.conversation import ConversationWorkflow

POLL_S = 0.2
UNANSWERED_AFTER_END = 5  # queries failing after the answer before it is sent without its last events
_NEWEST = 1 << 62  # a `since` past every event: the page says only where the next one starts


async def message_stream(threads: Threads, thread_id: str, body: ThreadMessage) -> AsyncIterator[bytes]:
    """Sends the message now (typed errors raise here); the events follow from the iterator."""
    handle = threads.chats.handle(thread_id)
    since = (await handle.query(ConversationWorkflow.progress, _NEWEST)).next_seq
    sent = await threads.send(thread_id, body, wait=False)
    return _events(threads, thread_id, sent, since)


async def _events(threads: Threads, thread_id: str, sent: c.MessageReply, seq: int) -> AsyncIterator[bytes]:
    yield frame("accepted", sent.model_dump_json())
    handle = threads.chats.handle(thread_id)
    answer = asyncio.ensure_future(threads.chats.await_reply(thread_id, sent.message_id))
    quiet_since, unanswered = time.monotonic(), 0
    try:
        while True:
            finished = answer.done()  # read before the page: the answer's last events are sent too
            try:
                page = await handle.query(ConversationWorkflow.progress, seq)
            except (WorkflowQueryFailedError, RPCError, RPCTimeoutOrCancelledError):
                page = None  # no worker answers now (a restart): asked again, after the answer
                unanswered += finished  # only so often
            for event in page.events if page else ():
                yield frame("progress", event.model_dump_json(), event.seq)
                quiet_since = time.monotonic()
            seq = page.next_seq if page else seq
            if finished and (page is not None or unanswered >= UNANSWERED_AFTER_END):
                break
            if time.monotonic() - quiet_since >= KEEPALIVE_S:
                yield b": keep-alive\n\n"  # a message waiting hours for its approver
                quiet_since = time.monotonic()
            await asyncio.wait({answer}, timeout=POLL_S)
        yield _answer_frame(answer)
    finally:
        answer.cancel()
        with contextlib.suppress(BaseException):
            await answer


def _answer_frame(answer: asyncio.Future[c.MessageReply]) -> bytes:
    try:
        reply = answer.result()
    except AgentError as err:
        return frame("error", json.dumps({"type": err.type_name, "message": err.message}))
    except RPCError as exc:
        return frame("error", json.dumps({"type": "DependencyDownError", "message": exc.message[:500]}))
    return frame("answer", reply.model_dump_json())
