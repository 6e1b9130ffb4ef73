"""/v1/threads: conversations over HTTP (one ConversationWorkflow per thread id), bearer tokens on all.

    POST /v1/threads/{id}/messages   {text, agent?, wait?, message_id?}: starts the thread if needed
        Accept: text/event-stream    SSE: `accepted`, `progress`…, then `answer` (api/thread_stream.py)
        otherwise JSON               200 the MessageReply (wait, the default), 202 its id (wait=false)
    GET  /v1/threads/{id}/messages/{message id}   the answer of a message posted with wait=false
    GET  /v1/threads/{id}            state, queue, pending approvals, summary; the result once closed
    POST /v1/threads/{id}/decisions  a pending call approved or denied (args_sha256, four eyes)
    POST /v1/threads/{id}/close      answers what is queued, stores the episode, ends

Refusals: 400 ThreadIdError / EmptyMessageError / InvalidInputError, 403 PermissionDeniedError
(another identity's thread, a missing role), 404 NotFoundError, 409 ThreadIdTakenError (a single
run's id) / ConversationClosedError / a call not pending, 410 an expired approval, 413
MessageTooLargeError.
"""

# No `from __future__ import annotations`: FastAPI must see the dependencies built in thread_routes,
# which string annotations would hide from it (they resolve in module globals only).
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Response
from fastapi.responses import StreamingResponse

from api.bodies import Decision
from api.service import Service
from api.thread_bodies import CloseThread, ThreadAccepted, ThreadMessage, ThreadView
from api.thread_service import Threads
from api.thread_stream import message_stream
from api.tokens import Identity
from core.conversation import MessageReply

SSE = "text/event-stream"


def thread_routes(service: Service, identity: Callable[..., Identity]) -> APIRouter:
    """The routes over `service`; `identity` is the app's bearer-token dependency (api/app.py)."""
    router = APIRouter(prefix="/v1/threads", tags=["threads"])
    Who = Annotated[Identity, Depends(identity)]
    shared = Threads(service)

    def threads() -> Threads:
        return shared

    Chats = Annotated[Threads, Depends(threads)]

    @router.post("/{thread_id}/messages", response_model=MessageReply, responses={202: {}})
    async def post_message(
        thread_id: str,
        body: ThreadMessage,
        chats: Chats,
        who: Who,
        response: Response,
        accept: Annotated[str, Header()] = "application/json",
    ) -> MessageReply | StreamingResponse:
        """Send a message (starting the thread for this identity if needed); SSE with
        `Accept: text/event-stream`, else JSON: the answer, or with wait=false its id (202)."""
        await chats.open(who, thread_id, body)
        if SSE in accept:
            events = await message_stream(chats, thread_id, body)
            headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
            return StreamingResponse(events, media_type=SSE, headers=headers)
        reply = await chats.send(thread_id, body, wait=body.wait)
        if not body.wait:
            response.status_code = 202
        return reply

    @router.get("/{thread_id}/messages/{message_id}", response_model=MessageReply)
    async def get_answer(thread_id: str, message_id: str, chats: Chats, who: Who) -> MessageReply:
        """The answer of a message posted with wait=false (waits until it is answered)."""
        return await chats.answer(who, thread_id, message_id)

    @router.get("/{thread_id}", response_model=ThreadView)
    async def get_thread(thread_id: str, chats: Chats, who: Who) -> ThreadView:
        """The conversation's state, queued messages, pending approvals and summary; once closed,
        its result."""
        return await chats.view(who, thread_id)

    @router.post("/{thread_id}/decisions", response_model=ThreadAccepted)
    async def decide(thread_id: str, body: Decision, chats: Chats, who: Who) -> ThreadAccepted:
        """Approve or deny a call pending in the thread, bound to its args_sha256; the approver is
        the token's identity, never the thread's starter."""
        return await chats.decide(who, thread_id, body)

    @router.post("/{thread_id}/close", response_model=ThreadAccepted)
    async def close(
        thread_id: str, chats: Chats, who: Who, body: CloseThread | None = None
    ) -> ThreadAccepted:
        """Close the thread: what is queued is still answered, then the conversation is remembered."""
        return await chats.close(who, thread_id, body or CloseThread())

    return router
