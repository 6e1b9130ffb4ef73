"""State shared by the agent loop's parts: the workflow class and its step mixins build on it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    # Pydantic models and the tool catalog are pure and heavy: import once, not per sandboxed run.
    from activities.toolsets import SCHEMAS, TOOLSETS
    from core import models as m
    from core.guardrails import ExhaustedBudget
    from core.progress import ProgressKind
    from core.search_attributes import (
        AGENT_COST_USD,
        AGENT_PROMPT_VERSION,
        AGENT_STATUS,
        AGENT_TURNS,
        AGENT_USER,
    )
    from core.toolspec import ToolRegistry
    from workflows import carry, events, metrics, prompts
    from workflows.guard import Guard
    from workflows.human import HumanLoop
    from workflows.outcome import Stop
    from workflows.progress import InFlight, ProgressLog

# Changes of the command sequence, kept so histories recorded before them still replay.
CRITIC_PATCH = "critic-final-answer"
# Escalations wait for a human reply, more triggers escalate, approvals get a half-deadline reminder.
HUMAN_LOOP_PATCH = "human-loop-v1"
# Budgets before each call, a bounded context window, loop detection, continue-as-new.
GUARDRAILS_PATCH = "guardrails-v1"
# Search attributes: turns and cost every few turns instead of every turn (see _publish).
PUBLISH_PATCH = "publish-sparingly-v1"
PUBLISH_EVERY_TURNS = 4
# ...then at most every PUBLISH_INTERVAL of workflow time: a run of a few seconds publishes them once, at
# its end (two upserts fewer in an 8-turn run: ~6 ms of dev-server CPU per run, bench/throughput.py).
PUBLISH_BY_TIME_PATCH = "publish-by-time-v1"
PUBLISH_INTERVAL = timedelta(seconds=30)


class AgentBase:
    """The run's state, how it resumes after continue-as-new, how it publishes and how it ends."""

    def __init__(self, request: m.AgentRequest) -> None:
        self._request = request
        # An unknown toolset offers no tools: the run fails at once with InvalidInputError.
        self._tools = TOOLSETS.get(request.toolset, ToolRegistry([]))
        self._schemas = SCHEMAS.get(request.toolset, ())
        self._state = m.RunState.RUNNING
        self._turn = 0
        self._turn_limit = request.limits.max_turns
        self._progress = ProgressLog()
        self._human = HumanLoop(request.limits, self._publish, self._progress, lambda: self._turn)
        self._steps: list[m.TraceStep] = []
        self._calls: list[m.ToolCallRecord] = []
        self._usage = m.TokenUsage()
        self._cost = 0.0
        # What runs now, for `status`; each start is also a progress event.
        self._in_flight = InFlight(self._progress, workflow.now, lambda: self._turn)
        self._thinking: str | None = None
        self._published: dict[str, object] = {}
        self._published_at: datetime | None = None  # when turns and cost last went out
        self._critiqued = False
        self._human_loop = False
        self._escalations = 0
        self._calls_at_escalation = 0  # failures before an escalation do not trigger the next one
        self._answered_by: str | None = None
        self._messages: list[m.ChatMessage] = [
            m.ChatMessage(role="system", content=prompts.SYSTEM_PROMPT),
            m.ChatMessage(role="user", content=prompts.TASK_TEMPLATE.format(task=request.task)),
        ]
        self._guard: Guard | None = None
        self._budget_hit: ExhaustedBudget | None = None
        self._runs = 1
        self._run_first_turn = 0
        if request.carry is not None:
            self._resume_from(request.carry)

    def _resume_from(self, c: m.Carry) -> None:
        """Continue-as-new: pick up exactly where the previous run handed over."""
        self._messages, self._turn, self._turn_limit = list(c.messages), c.turn, c.turn_limit
        self._calls, self._steps = list(c.calls), list(c.steps)
        self._usage, self._cost, self._critiqued = c.usage, c.cost_usd, c.critiqued
        self._escalations, self._calls_at_escalation = c.escalations, c.calls_at_escalation
        self._human.gate.audit, self._human.gate.blocked = list(c.audit), dict(c.blocked)
        self._runs, self._run_first_turn = c.runs, c.turn
        self._progress.restore(c.progress, c.progress_next_seq)

    def _finish(self, stop: Stop) -> m.AgentResult:
        self._state = stop.status
        self._publish()
        latency_ms = (workflow.now() - workflow.info().start_time).total_seconds() * 1000
        events.emit(
            "agent.end",
            self._turn,
            status=stop.status.value,
            stop_reason=stop.reason,
            turns=self._turn,
            tool_calls=len(self._calls),
            prompt_tokens=self._usage.prompt_tokens,
            completion_tokens=self._usage.completion_tokens,
            cost_usd=round(self._cost, 6),
            latency_ms=round(latency_ms, 1),
        )
        self._progress.add(workflow.now(), ProgressKind.ENDED, self._turn, stop.status.value)
        metrics.record_run_end(workflow.metric_meter(), stop.status.value, self._turn, self._cost, latency_ms)
        return m.AgentResult(
            workflow_id=workflow.info().workflow_id,
            status=stop.status,
            answer=stop.answer,
            turns=self._turn,
            tool_calls=tuple(carry.compact(c) for c in self._calls) if self._guard else tuple(self._calls),
            steps=tuple(self._steps),
            usage=self._usage,
            cost_usd=round(self._cost, 6),
            prompt_version=prompts.PROMPT_VERSION,
            stop_reason=stop.reason,
            audit=tuple(self._human.gate.audit),
            escalation=self._human.escalation,
            answered_by=self._answered_by,
            budget=self._budget_hit,
            spent=self._guard.spent if self._guard is not None else None,
            loops=self._guard.loop.counters if self._guard is not None else None,
            runs=self._runs,
        )

    def _publish(self) -> None:
        """Keep the state and search attributes current; upsert only what changed.

        The status goes out at once (a run awaiting approval must be listed as such now). Turns and
        cost go out with it, every PUBLISH_INTERVAL and at the end: each upsert is a history event and
        a visibility write, and one a turn cost the server about 20% CPU at 200 runs.
        """
        if self._state in (m.RunState.RUNNING, m.RunState.AWAITING_APPROVAL):
            self._state = m.RunState.AWAITING_APPROVAL if self._human.gate.pending else m.RunState.RUNNING
        sparing = workflow.patched(PUBLISH_PATCH)
        if sparing and not self._published:
            self._published = self._started_with()
        status = AGENT_STATUS.value_set(self._state.value)
        candidates: list[SearchAttributeUpdate[Any]] = [
            status,
            AGENT_USER.value_set(self._request.user_id),
            AGENT_TURNS.value_set(self._turn),
            AGENT_COST_USD.value_set(round(self._cost, 6)),
            AGENT_PROMPT_VERSION.value_set(prompts.PROMPT_VERSION),
        ]
        updates = [u for u in candidates if self._published.get(u.key.name) != u.value]
        ended = self._state not in (m.RunState.RUNNING, m.RunState.AWAITING_APPROVAL)
        due = ended or status in updates or self._periodic_due(sparing)
        progress = (AGENT_TURNS.name, AGENT_COST_USD.name)
        if sparing and not due:
            updates = [u for u in updates if u.key.name not in progress]
        if updates:
            workflow.upsert_search_attributes(updates)
            self._published.update({u.key.name: u.value for u in updates})
            if any(u.key.name in progress for u in updates):
                self._published_at = workflow.now()

    def _periodic_due(self, sparing: bool) -> bool:
        """Whether turns and cost are due without a change of status (see PUBLISH_BY_TIME_PATCH)."""
        if not (sparing and workflow.patched(PUBLISH_BY_TIME_PATCH)):
            return self._turn % PUBLISH_EVERY_TURNS == 0
        last = self._published_at or workflow.info().start_time
        return workflow.now() - last >= PUBLISH_INTERVAL

    def _started_with(self) -> dict[str, object]:
        """What the starter already set (starter.py sets all five): no need to upsert it again."""
        attributes = workflow.info().typed_search_attributes
        keys = (AGENT_STATUS, AGENT_USER, AGENT_TURNS, AGENT_COST_USD, AGENT_PROMPT_VERSION)
        return {key.name: attributes.get(key) for key in keys if attributes.get(key) is not None}

    # Provided by EscalationSteps; declared here so the other mixins can call them.
    async def _escalate(self, trigger: str, reason: str, ticket_id: str | None) -> None:
        raise NotImplementedError

    async def _open_ticket(self, reason: str) -> str | None:
        raise NotImplementedError

    def _check_cancel(self) -> None:
        raise NotImplementedError
