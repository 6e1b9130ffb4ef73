"""What each /v1/threads route does, over the typed ConversationClient: no HTTP in here.

A thread is a ConversationWorkflow (thread id = workflow id); the token's identity is its user and
its starter (memo `started_by`). Only the starter, or a SUPERVISOR, may read, post to or close a
thread; a decision follows the single run's rules instead (APPROVER, the agent's roles, four eyes:
never the thread's starter or user). Every refusal is an ApiError carrying a taxonomy class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api import policy
from api.bodies import Decision
from api.errors import ApiError
from api.service import STARTED_BY, Service, refusal
from api.thread_approvals import CONVERSATION
from api.thread_bodies import CloseThread, ThreadAccepted, ThreadMessage, ThreadView
from api.tokens import Identity
from client.conversations import ConversationClient, ConversationHandle
from core import conversation as c
from core import search_attributes as sa
from core.errors import (
    AgentError,
    BudgetExceededError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
)
from core.models import DecideUpdate


def http_status(err: AgentError) -> int:
    """The status a conversation's typed refusal is answered with."""
    if isinstance(err, c.ConversationClosedError | c.ThreadIdTakenError | BudgetExceededError):
        return 409
    if isinstance(err, PayloadTooLargeError):
        return 413
    if isinstance(err, NotFoundError):
        return 404
    if isinstance(err, PermissionDeniedError):
        return 403
    return 400


@dataclass(frozen=True)
class Thread:
    handle: ConversationHandle
    running: bool
    started_by: str | None
    user: str | None  # published with the conversation's first approval (AgentUser)


@dataclass
class Threads:
    service: Service
    chats: ConversationClient = field(init=False)

    def __post_init__(self) -> None:
        runs = self.service.runs
        self.chats = ConversationClient(runs.client, runs.task_queue)

    async def find(self, thread_id: str) -> Thread | None:
        """The thread's conversation, None if it never started; refuses ids that cannot be threads."""
        try:
            handle = self.chats.handle(thread_id)
        except c.ThreadIdError as err:
            raise ApiError(400, err) from None
        try:
            desc = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        if desc.workflow_type != CONVERSATION:
            taken = c.ThreadIdTakenError(f"{thread_id} is the id of a single run, not a conversation")
            raise ApiError(409, taken)
        started_by = await desc.memo_value(STARTED_BY, None)
        running = desc.status == WorkflowExecutionStatus.RUNNING
        user = desc.typed_search_attributes.get(sa.AGENT_USER)
        return Thread(handle, running, started_by if isinstance(started_by, str) else None, user)

    async def mine(self, identity: Identity, thread_id: str) -> Thread:
        """The thread, if `identity` may use it: its starter, or a supervisor."""
        thread = await self.find(thread_id)
        if thread is None:
            raise ApiError(404, NotFoundError(f"no thread {thread_id!r}"))
        self._check_owner(identity, thread)
        return thread

    def _check_owner(self, identity: Identity, thread: Thread) -> None:
        if identity.name != thread.started_by and policy.SUPERVISOR not in identity.roles:
            refused = PermissionDeniedError(
                f"thread {thread.handle.id} was started by another identity; "
                f"only its starter or a {policy.SUPERVISOR} may use it"
            )
            raise ApiError(403, refused)

    async def open(self, identity: Identity, thread_id: str, body: ThreadMessage) -> Thread:
        """The thread ready for `body`: started (or restarted once closed) by `identity` if needed.
        What the conversation would refuse anyway is refused first, so no thread starts for it."""
        thread = await self.find(thread_id)
        if thread is not None:
            self._check_owner(identity, thread)
        self._check_text(body)
        if thread is not None and thread.running:
            return thread
        try:
            handle = await self.chats.open(
                thread_id, agent=body.agent, user_id=identity.name, memo={STARTED_BY: identity.name}
            )
        except AgentError as err:
            raise ApiError(http_status(err), err) from None
        return Thread(handle, True, identity.name, identity.name)

    def _check_text(self, body: ThreadMessage) -> None:
        agents = self.service.agents
        if body.agent is not None and agents and body.agent not in agents:
            raise ApiError(404, NotFoundError(f"no agent {body.agent!r}; served: {sorted(agents)}"))
        if not body.text.strip():
            raise ApiError(400, c.EmptyMessageError("the message is empty"))
        # The named agent's limit; unnamed, the largest served (the conversation checks its own too).
        named = [agents[body.agent]] if body.agent is not None and body.agent in agents else agents.values()
        limit = max((agent.conversation.max_message_chars for agent in named), default=None)
        if limit is not None and len(body.text) > limit:
            too_large = f"the message has {len(body.text)} characters; the limit is {limit}"
            raise ApiError(413, c.MessageTooLargeError(too_large))

    async def send(self, thread_id: str, body: ThreadMessage, wait: bool) -> c.MessageReply:
        try:
            return await self.chats.send(thread_id, body.text, wait=wait, message_id=body.message_id)
        except AgentError as err:
            raise ApiError(http_status(err), err) from None

    async def answer(self, identity: Identity, thread_id: str, message_id: str) -> c.MessageReply:
        """The answer of a message sent earlier (wait=false), once it is answered."""
        if not re.match(c.MESSAGE_ID, message_id):
            raise ApiError(400, InvalidInputError(f"a message id must match {c.MESSAGE_ID}"))
        thread = await self.mine(identity, thread_id)
        if not thread.running:
            raise ApiError(409, c.ConversationClosedError(f"conversation {thread_id} is closed"))
        try:
            return await self.chats.await_reply(thread_id, message_id)
        except AgentError as err:
            raise ApiError(http_status(err), err) from None

    async def view(self, identity: Identity, thread_id: str) -> ThreadView:
        thread = await self.mine(identity, thread_id)
        base = {"thread_id": thread_id, "started_by": thread.started_by, "open": thread.running}
        if thread.running:
            return ThreadView(**base, status=await self.chats.status(thread_id))
        try:
            return ThreadView(**base, result=await thread.handle.result())
        except WorkflowFailureError as exc:  # terminated or timed out: no ConversationResult
            return ThreadView(**base, ended=str(exc.cause)[:500])

    async def close(self, identity: Identity, thread_id: str, body: CloseThread) -> ThreadAccepted:
        thread = await self.mine(identity, thread_id)
        if not thread.running:
            raise ApiError(409, c.ConversationClosedError(f"conversation {thread_id} is closed"))
        await self.chats.close(thread_id, by=identity.name, reason=body.reason)
        return ThreadAccepted(thread_id=thread_id, by=identity.name)

    async def decide(self, identity: Identity, thread_id: str, body: Decision) -> ThreadAccepted:
        """A call pending in the thread, decided by the conversation's `decide` update; audited."""
        action = f"thread.decide.{body.verdict}"
        try:
            await self._decide(identity, thread_id, body)
        except ApiError as refused:
            self.service.audit(identity, action, thread_id, body.call_id, refused)
            raise
        self.service.audit(identity, action, thread_id, body.call_id, None)
        return ThreadAccepted(thread_id=thread_id, by=identity.name, detail={"call_id": body.call_id})

    async def _decide(self, identity: Identity, thread_id: str, body: Decision) -> None:
        if policy.APPROVER not in identity.roles:
            needs = PermissionDeniedError(f"deciding an approval needs the role {policy.APPROVER}")
            raise ApiError(403, needs)
        thread = await self.find(thread_id)
        if thread is None:
            raise ApiError(404, NotFoundError(f"no thread {thread_id!r}"))
        if not thread.running:
            ended = InvalidInputError(f"call {body.call_id} is not pending; the thread is closed")
            raise ApiError(409, ended)
        status = await self.chats.status(thread_id)
        item = next((p for p in status.pending if p.call_id == body.call_id), None)
        if item is not None:  # not pending: the update's validator says why (409 or 410)
            starters = (thread.started_by, thread.user)
            try:
                agent = self.service.agents.get(status.agent)
                policy.check_may_decide(identity, agent, item.tool, item.args, starters)
            except PermissionDeniedError as err:
                raise ApiError(403, err) from None
        update = DecideUpdate(
            call_id=body.call_id, approver=identity.name, verdict=body.verdict,
            reason=body.reason, args_sha256=body.args_sha256,
        )  # fmt: skip
        try:
            answered = await self.chats.decide(thread_id, update)
        except WorkflowUpdateFailedError as exc:
            raise refusal(exc) from None
        if not answered.accepted:  # the gate refused what the validator let through: audited there
            raise ApiError(409, InvalidInputError(f"call {body.call_id} was not accepted"))
