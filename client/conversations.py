"""ConversationClient: open a thread, send it messages, decide its approvals, close it.

    chats = ConversationClient(client, task_queue)
    await chats.open("thread-42", agent="merchant_support", user_id="MID001")
    reply = await chats.send("thread-42", "Is pay_ABC123 a duplicate?")   # the answer
    queued = await chats.send("thread-42", "and the other one?", wait=False)  # its message id
    await chats.close("thread-42")

Every refusal is one typed error (core/conversation.py). A reply "carried" to the next run of the
conversation (continue-as-new) is awaited there, so a caller always gets its answer once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from client.queries import query
from core import conversation as c
from core.errors import ERRORS_BY_NAME, AgentError, InvalidInputError
from core.models import ApproveSignal, DecideResult, DecideUpdate, DenySignal, HumanReplySignal
from workflows.conversation import ConversationWorkflow

ConversationHandle = WorkflowHandle[ConversationWorkflow, c.ConversationResult]


class ConversationClient:
    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    async def open(
        self,
        thread_id: str,
        *,
        agent: str | None = None,
        user_id: str = "anonymous",
        memo: Mapping[str, Any] | None = None,
        **settings: Any,
    ) -> ConversationHandle:
        """Start the thread's conversation, or join it while it is open; a single run's id is refused.
        `memo` is kept beside the conversation by the start that creates it (the HTTP API: who)."""
        c.check_thread_id(thread_id)
        await self._refuse_single_run(thread_id)
        request = c.ConversationRequest(thread_id=thread_id, agent=agent, user_id=user_id, **settings)
        handle = await self.client.start_workflow(
            ConversationWorkflow.run,
            request,
            id=thread_id,
            task_queue=self.task_queue,
            # A second open of the same thread joins the open conversation instead of starting another.
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            memo=dict(memo) if memo else None,
        )
        await self._refuse_single_run(thread_id)  # a single run started in between
        return handle

    def handle(self, thread_id: str) -> ConversationHandle:
        c.check_thread_id(thread_id)
        return self.client.get_workflow_handle_for(ConversationWorkflow.run, thread_id)

    async def send(
        self, thread_id: str, text: str, *, wait: bool = True, message_id: str | None = None
    ) -> c.MessageReply:
        """The answer (wait), or at once the message's id; typed errors for every refusal."""
        message = c.SendMessage(text=text, wait=wait, message_id=message_id)
        reply = await self._update(thread_id, ConversationWorkflow.send_message, message)
        if wait and reply.status == c.ReplyStatus.CARRIED:
            return await self.await_reply(thread_id, reply.message_id)
        return reply

    async def await_reply(self, thread_id: str, message_id: str) -> c.MessageReply:
        """The answer of a message sent earlier, following the conversation across continue-as-new."""
        while True:
            reply = await self._update(thread_id, ConversationWorkflow.await_reply, message_id)
            if reply.status != c.ReplyStatus.CARRIED:
                return reply

    async def close(self, thread_id: str, by: str = "user", reason: str = "closed") -> None:
        await self.handle(thread_id).signal(ConversationWorkflow.close, c.CloseSignal(by=by, reason=reason))

    async def approve(self, thread_id: str, approval: ApproveSignal) -> None:
        await self.handle(thread_id).signal(ConversationWorkflow.approve, approval)

    async def deny(self, thread_id: str, denial: DenySignal) -> None:
        await self.handle(thread_id).signal(ConversationWorkflow.deny, denial)

    async def decide(self, thread_id: str, decision: DecideUpdate) -> DecideResult:
        """Approve or deny synchronously: the update's validator refuses a wrong call or hash at once."""
        return await self.handle(thread_id).execute_update(ConversationWorkflow.decide, decision)

    async def reply(self, thread_id: str, reply: HumanReplySignal) -> None:
        await self.handle(thread_id).signal(ConversationWorkflow.human_reply, reply)

    async def status(self, thread_id: str) -> c.ConversationStatus:
        status: c.ConversationStatus = await query(self.handle(thread_id), ConversationWorkflow.status)
        return status

    async def _update(self, thread_id: str, update: Any, arg: Any) -> c.MessageReply:
        try:
            reply: c.MessageReply = await self.handle(thread_id).execute_update(update, arg)
        except WorkflowUpdateFailedError as err:
            found = typed(err.cause)
            if type(found) is InvalidInputError:  # not one of ours: maybe not a conversation at all
                await self._refuse_single_run(thread_id)
            raise found from None
        except RPCError as err:
            raise await self._why_refused(thread_id, err) from None
        return reply

    async def _why_refused(self, thread_id: str, err: RPCError) -> Exception:
        """The server refused the update: no such conversation, a single run's id, or closed."""
        try:
            described = await self.client.get_workflow_handle(thread_id).describe()
        except RPCError:
            return c.ConversationClosedError(f"no conversation {thread_id}: open it first")
        if described.workflow_type != "ConversationWorkflow":
            return c.ThreadIdTakenError(f"{thread_id} is the id of a single run, not a conversation")
        if described.status != WorkflowExecutionStatus.RUNNING:
            return c.ConversationClosedError(f"conversation {thread_id} is closed ({err.message})")
        return err

    async def _refuse_single_run(self, thread_id: str) -> None:
        try:
            described = await self.client.get_workflow_handle(thread_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return
            raise
        if described.workflow_type != "ConversationWorkflow":
            raise c.ThreadIdTakenError(
                f"{thread_id} is the id of a single run ({described.workflow_type}): pick another thread id",
                details={"workflow_type": described.workflow_type},
            )


def typed(cause: BaseException | None) -> AgentError:
    """An update's failure as the class of our taxonomy it names."""
    if isinstance(cause, ApplicationError):
        cls = c.CONVERSATION_ERRORS.get(cause.type or "") or ERRORS_BY_NAME.get(cause.type or "")
        details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        if cls is not None:
            return cls(cause.message, details=details)
    return InvalidInputError(f"the conversation refused the message: {cause}")
