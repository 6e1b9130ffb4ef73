"""A conversation's search attributes: AgentStatus is `awaiting_approval` while a call of the message
being handled waits for a person and `running` again once it is decided, so GET /v1/approvals and
`starter.py pending` find conversations the way they find single runs (visibility names them, their
`status` query the calls). AgentUser and AgentName go out with the first upsert.

Upserts only when the status changes: a conversation that never waits for a person adds no event.
Conversations recorded before this published nothing, so the upserts sit behind PATCH; remove it
once no open conversation started before it (idle timeout: a day by default).
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    # Pure constants and enums: imported once, not per sandboxed run.
    from core.models import RunState
    from core.search_attributes import AGENT_NAME, AGENT_STATUS, AGENT_USER

PATCH = "conversation-publishes-status"
_KEYS = (AGENT_STATUS, AGENT_USER, AGENT_NAME)


class ConversationPublisher:
    def __init__(self, user: str, agent: str) -> None:
        self._user, self._agent = user, agent
        self._published: dict[str, object] | None = None

    def publish(self, pending: bool) -> None:
        """Upsert the status if it changed (and the user and agent, if not yet set)."""
        status = (RunState.AWAITING_APPROVAL if pending else RunState.RUNNING).value
        if self._published is None:
            # What the start (or the run before continue-as-new) already set.
            attributes = workflow.info().typed_search_attributes
            self._published = {key.name: attributes.get(key) for key in _KEYS}
        if status == (self._published.get(AGENT_STATUS.name) or RunState.RUNNING.value):
            return
        if not workflow.patched(PATCH):
            return
        wanted: list[SearchAttributeUpdate[Any]] = [
            AGENT_STATUS.value_set(status),
            AGENT_USER.value_set(self._user),
            AGENT_NAME.value_set(self._agent),
        ]
        updates = [u for u in wanted if self._published.get(u.key.name) != u.value]
        workflow.upsert_search_attributes(updates)
        self._published.update({u.key.name: u.value for u in updates})
