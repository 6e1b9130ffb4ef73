"""AgentWorkflow: the ReAct loop as deterministic workflow code, and the run's public handlers.

    think (llm.complete) → no calls: critic → final answer
                         → calls: route in code → loop check → approval → tool.<agent>.<tool>
                                  (independent calls in parallel) → observations → next turn
    limits before every call; escalation when the agent's policy says so; continue-as-new when long.

The agent is one the worker serves (core/served.py), named by the request; collaborators take the
run's state (workflows/state.py) and return decisions."""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.contrib.workflow_streams import WorkflowStream
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    # Contracts and the engine's policies are pure and heavy: imported once, not per sandboxed run.
    from core import models as m
    from core.errors import AgentError, InvalidInputError
    from core.progress import ProgressKind
    from workflows import carry, events, live, metrics, planning
    from workflows.acting import ToolRunner
    from workflows.config import RunConfig, resolve_here
    from workflows.escalation import Escalator
    from workflows.guard import Guard
    from workflows.human import HumanLoop
    from workflows.limits import Limits
    from workflows.loop import Loop
    from workflows.outcome import Stop, partial_answer
    from workflows.progress import InFlight, ProgressLog
    from workflows.publishing import Publisher
    from workflows.state import AgentState, compact
    from workflows.thinking import Thinker


@workflow.defn(name="AgentWorkflow")
class AgentWorkflow:
    @workflow.init
    def __init__(self, request: m.AgentRequest) -> None:
        self._request = request
        self._refused: AgentError | None = None
        try:
            self._config: RunConfig | None = resolve_here(request)
        except AgentError as err:  # answered in `run`: a typed FAILED result, before any activity
            self._config, self._refused = None, err
        config = self._config
        limits = config.limits if config else m.AgentLimits()
        system, task = (config.opening(request.task)) if config else ("", request.task)
        c = request.carry
        self._state = AgentState.resume(c) if c else AgentState.begin(system, task, limits.max_turns)
        self._progress = ProgressLog()
        self._live: live.LiveStream | None = None
        if live.wanted():  # the library requires its construction right here, in @workflow.init
            self._live = live.LiveStream(WorkflowStream(c.stream if c else None))
            self._progress.publish_to(self._live.publish, self._live.publish_text)
        self._human = HumanLoop(limits, self._publish, self._progress, lambda: self._state.turn)
        if c is not None:
            self._progress.restore(c.progress, c.progress_next_seq)
            self._human.gate.audit, self._human.gate.blocked = list(c.audit), dict(c.blocked)
        self._in_flight = InFlight(self._progress, workflow.now, lambda: self._state.turn)
        name, version = (config.agent.name, config.prompt_version) if config else (request.agent or "", "")
        self._publisher = Publisher(request.user_id, name, version, config.prompt_channel if config else None)
        self._guard: Guard | None = None  # made in `run`, once the run is known to be served

    @workflow.run
    async def run(self, request: m.AgentRequest) -> m.AgentResult:
        result = await self._run(request)
        if self._live is not None:
            # Readers get the last items from a poll; a reader that missed them asks the ended run.
            await self._live.end()
            await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _run(self, request: m.AgentRequest) -> m.AgentResult:
        self._publish()
        self._emit_start()
        try:
            config = self._configured()
            guard = self._guard = Guard(config, request, workflow.now(), request.carry)
            escalator = Escalator(config, request, self._state, self._human, guard, self._publish)
            limits = Limits(guard, self._state, escalator)
            runner = ToolRunner(config.agent, self._human, self._in_flight, limits, request.user_id)
            thinker = Thinker(config, self._state, guard, limits, self._progress)
            loop = Loop(config, self._state, guard, limits, escalator, runner, thinker, self._after_calls)
            if request.carry is None:
                await escalator.on_task(request.task)
            await planning.run_if_planned(loop, self._progress, request)  # plan mode ends the run in it
            await loop.turns(self._continue_as_new)
            found = partial_answer(self._state.turn, self._state.calls)
            raise Stop(m.RunState.BUDGET_EXHAUSTED, found, "max_turns")
        except Stop as stop:
            return self._finish(stop)
        except AgentError as err:
            # The rule of core/worker_options.py: our taxonomy in workflow code ends the run, typed.
            answer = f"The run stopped ({err.type_name}): {err.message}"
            return self._finish(Stop(m.RunState.FAILED, answer, err.type_name))

    def _configured(self) -> RunConfig:
        if self._config is None:
            err = self._refused or AgentError("the run has no configuration")
            answer = f"The run was refused ({err.type_name}): {err.message}"
            raise Stop(m.RunState.FAILED, answer, err.type_name)
        return self._config

    def _emit_start(self) -> None:
        config = self._config
        events.emit(
            "agent.start", self._state.turn, user_id=self._request.user_id, runs=self._state.runs,
            agent=config.agent.name if config else self._request.agent, max_turns=self._state.turn_limit,
            model=config.model.model if config else None,
            prompt_version=config.prompt_version if config else None,
        )  # fmt: skip

    def _publish(self) -> None:
        self._publisher.publish(self._state, bool(self._human.gate.pending))

    def _finish(self, stop: Stop) -> m.AgentResult:
        state = self._state
        state.status = stop.status
        self._publish()
        latency_ms = (workflow.now() - workflow.info().start_time).total_seconds() * 1000
        events.emit(
            "agent.end",
            state.turn,
            status=stop.status.value,
            stop_reason=stop.reason,
            turns=state.turn,
            tool_calls=len(state.calls),
            prompt_tokens=state.usage.prompt_tokens,
            completion_tokens=state.usage.completion_tokens,
            cost_usd=round(state.cost, 6),
            latency_ms=round(latency_ms, 1),
        )
        self._progress.add(workflow.now(), ProgressKind.ENDED, state.turn, stop.status.value)
        metrics.record_run_end(workflow.metric_meter(), stop.status.value, state.turn, state.cost, latency_ms)
        return m.AgentResult(
            workflow_id=workflow.info().workflow_id,
            agent=self._config.agent.name if self._config else "",
            status=stop.status,
            answer=stop.answer,
            turns=state.turn,
            tool_calls=tuple(compact(c) for c in state.calls),
            steps=tuple(state.steps),
            usage=state.usage,
            cost_usd=round(state.cost, 6),
            prompt_version=self._config.prompt_version if self._config else "",
            prompt_channel=(self._config.prompt_channel or "") if self._config else "",
            stop_reason=stop.reason,
            audit=tuple(self._human.gate.audit),
            escalation=self._human.escalation,
            answered_by=state.answered_by,
            budget=state.budget_hit,
            spent=self._guard.spent if self._guard else None,
            loops=self._guard.loop.counters if self._guard else None,
            runs=state.runs,
            plan=tuple(state.plan),
        )

    def _after_calls(self, records: list[m.ToolCallRecord]) -> None:
        for record in records:
            self._progress.call_ended(workflow.now(), record)
        self._publish()

    async def _continue_as_new(self, guard: Guard, prompt_version: str) -> None:
        """Hand over to a fresh run with everything it needs; history per run stays bounded."""
        if self._live is not None:
            self._live.detach()  # else the stream's long polls keep the handlers from finishing
        await workflow.wait_condition(workflow.all_handlers_finished)
        channel = (self._config.prompt_channel or "") if self._config else ""
        handed = carry.build(self._state, guard, self._human.gate, self._progress, prompt_version, channel)
        if self._live is not None:
            handed = handed.model_copy(update={"stream": self._live.handover()})
        events.emit("agent.continue_as_new", self._state.turn, runs=self._state.runs + 1)
        workflow.continue_as_new(self._request.model_copy(update={"carry": handed}))

    # ── handlers: the run's public face (docs/architecture.md lists them) ──

    @workflow.signal(name="approve")
    def approve(self, payload: Any) -> None:
        self._human.on_approve(payload)

    @workflow.signal(name="deny")
    def deny(self, payload: Any) -> None:
        self._human.on_deny(payload)

    @workflow.signal(name="human_reply")
    def human_reply(self, payload: Any) -> None:
        self._human.on_reply(payload)

    @workflow.signal(name="cancel")
    def cancel(self, payload: Any) -> None:
        self._human.on_cancel(payload)

    @workflow.update(name="decide")
    def decide(self, request: m.DecideUpdate) -> m.DecideResult:
        rejected = self._human.decide(request, workflow.now())
        self._publish()
        return m.DecideResult(accepted=rejected is None, call_id=request.call_id, verdict=request.verdict)

    @decide.validator
    def _validate_decide(self, request: m.DecideUpdate) -> None:
        """Refuse before anything is written: the caller hears why at once."""
        refusal = self._human.refusal_of(request, workflow.now())
        if refusal is not None:
            # Typed, with the kind as its details: the HTTP API answers 409 or 410 from it.
            raise ApplicationError(refusal.message, refusal.kind, type=InvalidInputError.__name__)

    @workflow.query(name="status")
    def status(self) -> m.RunStatus:
        state, human = self._state, self._human
        return m.RunStatus(
            workflow_id=workflow.info().workflow_id,
            agent=self._config.agent.name if self._config else "",
            state=state.status,
            turn=state.turn,
            max_turns=state.turn_limit,
            pending=tuple(human.gate.pending.values()),
            usage=state.usage,
            cost_usd=round(state.cost, 6),
            tool_calls=len(state.calls),
            in_flight=(*((state.thinking,) if state.thinking else ()), *self._in_flight.values()),
            escalation=human.escalation if state.status == m.RunState.ESCALATED else None,
            steps=tuple(state.steps),
            calls=tuple(state.calls),
            audit=tuple(human.gate.audit),
            plan=tuple(state.plan),
        )

    @workflow.query(name="progress")
    def progress(self, since: int) -> m.ProgressPage:
        """Step events from `since` on: `run` follows a run with this, one short page per poll."""
        state = self._state
        return m.ProgressPage(
            events=self._progress.since(since),
            next_seq=self._progress.next_seq,
            run=state.runs,
            state=state.status,
            pending=tuple(self._human.gate.pending.values()),
            escalation=self._human.escalation if state.status == m.RunState.ESCALATED else None,
        )
