"""The run's search attributes, kept current with as few upserts as the UI needs.

The status goes out at once (a run awaiting approval must be listed as such now). Turns and cost go
out with it, at most every PUBLISH_INTERVAL of workflow time, and at the end: each upsert is a
history event and a visibility write (about 3 ms of dev-server CPU each, bench/throughput.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from core.search_attributes import (
        AGENT_COST_USD,
        AGENT_NAME,
        AGENT_PROMPT_CHANNEL,
        AGENT_PROMPT_VERSION,
        AGENT_STATUS,
        AGENT_TURNS,
        AGENT_USER,
        STARTED_WITH,
    )
    from workflows.state import AgentState

PUBLISH_INTERVAL = timedelta(seconds=30)
_PROGRESS = (AGENT_TURNS.name, AGENT_COST_USD.name)


class Publisher:
    def __init__(self, user: str, agent: str, prompt_version: str, channel: str | None = None) -> None:
        self._fixed = (user, agent, prompt_version)
        self._channel = channel  # None: a run recorded before channels, which never published one
        self._published: dict[str, object] = {}
        self._published_at: datetime | None = None

    def publish(self, state: AgentState, pending: bool) -> None:
        """Upsert what changed: the status at once, turns and cost when due."""
        if state.status in (m.RunState.RUNNING, m.RunState.AWAITING_APPROVAL):
            state.status = m.RunState.AWAITING_APPROVAL if pending else m.RunState.RUNNING
        if not self._published:
            self._published = _started_with()
        user, agent, version = self._fixed
        status = AGENT_STATUS.value_set(state.status.value)
        candidates: list[SearchAttributeUpdate[Any]] = [
            status,
            AGENT_USER.value_set(user),
            AGENT_NAME.value_set(agent),
            AGENT_TURNS.value_set(state.turn),
            AGENT_COST_USD.value_set(round(state.cost, 6)),
            AGENT_PROMPT_VERSION.value_set(version),
        ]
        updates = [u for u in candidates if self._published.get(u.key.name) != u.value]
        due = not state.live or status in updates or self._interval_passed()
        if not due:
            updates = [u for u in updates if u.key.name not in _PROGRESS]
        channel = AGENT_PROMPT_CHANNEL.name
        if updates and self._channel is not None and self._published.get(channel) != self._channel:
            # Rides along with an upsert that goes out anyway (at the latest the final status): a
            # run started with all its other attributes pays no upsert of its own for it.
            updates.append(AGENT_PROMPT_CHANNEL.value_set(self._channel))
        if updates:
            workflow.upsert_search_attributes(updates)
            self._published.update({u.key.name: u.value for u in updates})
            if any(u.key.name in _PROGRESS for u in updates):
                self._published_at = workflow.now()

    def _interval_passed(self) -> bool:
        last = self._published_at or workflow.info().start_time
        return workflow.now() - last >= PUBLISH_INTERVAL


def _started_with() -> dict[str, object]:
    """What the starter already set (core.search_attributes.at_start): no need to upsert it again."""
    attributes = workflow.info().typed_search_attributes
    return {key.name: attributes.get(key) for key in STARTED_WITH if attributes.get(key) is not None}
