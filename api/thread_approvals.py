"""The approvals pending inside conversations, for GET /v1/approvals beside those of single runs.

Visibility names the conversations waiting (their AgentStatus: workflows/conversation_publishing.py),
each one's `status` query the calls; decided at /v1/threads/{id}/decisions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio.client import WorkflowExecution, WorkflowQueryFailedError
from temporalio.service import RPCError

from api import policy
from api.bodies import ApprovalView
from client.conversations import ConversationClient
from core import search_attributes as sa

if TYPE_CHECKING:  # api/service.py imports this module
    from api.service import Service

CONVERSATION = "ConversationWorkflow"  # the workflow type (workflows/conversation.py)


async def conversation_approvals(
    service: Service, execution: WorkflowExecution, started_by: str | None
) -> list[ApprovalView]:
    chats = ConversationClient(service.runs.client, service.runs.task_queue)
    try:
        status = await chats.status(execution.id)
    except (WorkflowQueryFailedError, RPCError):
        return []  # its worker does not answer now: listed again once it does
    agent = service.agents.get(status.agent)
    user = execution.typed_search_attributes.get(sa.AGENT_USER)
    views = []
    for item in status.pending:
        views.append(ApprovalView(
            run_id=execution.id, agent=status.agent, user=user, started_by=started_by,
            call_id=item.call_id, tool=item.tool, args=item.args, args_sha256=item.args_sha256,
            requested_at=item.requested_at, deadline=item.deadline,
            roles_needed=policy.roles_needed(agent, item.tool, item.args),
            temporal_ui=service.ui_link(execution.id), kind="thread",
            decisions=f"/v1/threads/{execution.id}/decisions",
        ))  # fmt: skip
    return views
