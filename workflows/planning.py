"""Plan-and-execute: one planner call, the plan checked in code, its steps run as code, one answer call.

    planner (llm.complete, no tools offered) → parse + check (workflows/plan_check.py)
        refused only for misnamed read-only steps whose arguments fit one tool → those steps run that
                  tool (workflows/plan_names.py), no model call
        refused → the typed issues go back to the planner once → refused again: the run fails, typed;
                  nothing ran and no retry was spent
    steps (workflows/plan_steps.py): parallel where independent, each through the ReAct call path
    a step failed → its dependents skipped → one re-plan from the results (PlanPolicy.replans)
    answer (llm.complete, no tools) → critic facts → final answer

Every model call goes through the Thinker (budgets, daily ledger, trace, progress), every step through
Limits and the ToolRunner (loop rules, approvals, tool-call budget), exactly as a ReAct turn does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn, Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from core.errors import InvalidInputError
    from core.plans import Plan, PlanIssue, StepState, StepView
    from core.progress import ProgressKind
    from workflows import critic, prompts
    from workflows.acting import ToolRunner
    from workflows.config import RunConfig
    from workflows.escalation import Escalator
    from workflows.guard import Guard
    from workflows.limits import Limits
    from workflows.outcome import Stop, partial_answer
    from workflows.plan_check import calls_as_plan, check, parse
    from workflows.plan_names import resolve_names
    from workflows.plan_steps import StepRunner
    from workflows.progress import ProgressLog
    from workflows.state import AgentState
    from workflows.thinking import Thinker


PLAN_NAMES_PATCH = "plan-names-by-arguments"


class Collaborators(Protocol):
    """What the ReAct loop of workflows/agent.py holds; plan mode runs with the very same objects."""

    @property
    def config(self) -> RunConfig: ...
    @property
    def state(self) -> AgentState: ...
    @property
    def guard(self) -> Guard: ...
    @property
    def limits(self) -> Limits: ...
    @property
    def escalator(self) -> Escalator: ...
    @property
    def runner(self) -> ToolRunner: ...
    @property
    def thinker(self) -> Thinker: ...
    @property
    def calls_done(self) -> Callable[[list[m.ToolCallRecord]], None]: ...


async def run_if_planned(loop: Collaborators, progress: ProgressLog, request: m.AgentRequest) -> None:
    """A new run whose agent plans this task runs its plan to the end (raising Stop); else returns."""
    if request.carry is not None or loop.config.agent.mode_of(request.task) != "plan":
        return
    parts = (loop.config, loop.state, loop.guard, loop.limits, loop.escalator, loop.runner, progress)
    steps = StepRunner(*parts, loop.calls_done)
    await PlanLoop(loop.config, loop.state, loop.guard, loop.thinker, steps).run()


@dataclass
class PlanLoop:
    config: RunConfig
    state: AgentState
    guard: Guard
    thinker: Thinker
    steps: StepRunner

    async def run(self) -> NoReturn:
        policy = self.config.agent.planning
        self._ask(prompts.PLAN_REQUEST.format(max_steps=self._max_steps(), tools=self._catalogue()))
        for round_no in range(1, policy.replans + 2):
            plan = await self._plan(round_no)
            views = await self.steps.run(round_no, plan)
            self._trace(round_no, views)
            failed = [f"{v.id} ({v.tool}: {v.state.value})" for v in views if v.state != StepState.DONE]
            if not failed or round_no > policy.replans:
                break
            self._ask(prompts.PLAN_REPLAN.format(failed=", ".join(failed)))
        await self._answer()

    async def _plan(self, round_no: int) -> Plan:
        """The round's plan, checked; its issues go back to the planner (once, by default)."""
        proposed = await self._propose(round_no)
        for _ in range(self.config.agent.planning.corrections):
            if isinstance(proposed, Plan):
                return proposed
            self._ask(prompts.PLAN_REFUSED.format(issues=_issues_json(proposed)))
            proposed = await self._propose(round_no)
        if isinstance(proposed, Plan):
            return proposed
        self._refused(proposed)

    async def _propose(self, round_no: int) -> Plan | list[PlanIssue]:
        reply = await self._think()
        self.state.messages.append(m.ChatMessage(role="assistant", content=reply.content))
        parsed = parse(reply.content) if not reply.tool_calls else calls_as_plan(reply.tool_calls)
        registry = self.config.agent.registry
        issues = [parsed] if isinstance(parsed, PlanIssue) else check(parsed, registry, self._max_steps())
        renamed: list[str] = []
        if isinstance(parsed, Plan) and issues:
            parsed, issues, renamed = self._resolved(parsed, issues)
        progress, turn, now = self.steps.progress, self.state.turn, workflow.now()
        if isinstance(parsed, Plan) and not issues:
            label = "; ".join(f"{s.id} {s.tool}" for s in parsed.steps)
            detail = f"round {round_no}" + "".join(f"; {r}" for r in renamed)
            progress.add(now, ProgressKind.PLAN, turn, label, outcome="accepted", detail=detail)
            return parsed
        why = _issues_json(issues)
        progress.add(now, ProgressKind.PLAN, turn, "", outcome="refused", detail=why[:200])
        self.state.steps.append(m.TraceStep(turn=turn, thought="plan refused", error=why[:500]))
        return issues

    def _resolved(self, plan: Plan, issues: list[PlanIssue]) -> tuple[Plan, list[PlanIssue], list[str]]:
        """A refused plan whose misnamed steps resolve by their arguments (workflows/plan_names.py) and
        then passes: that plan; else the plan and its issues as they were, every one for the planner."""
        if not self.config.agent.planning.resolve_names:
            return plan, issues, []
        registry = self.config.agent.registry
        resolved, names = resolve_names(plan, registry)
        if not names or check(resolved, registry, self._max_steps()):
            return plan, issues, []
        # Runs from before sent every misnamed step back to the planner. Remove once none of them can
        # be running or replayed (docs/architecture.md, Versioning).
        if not workflow.patched(PLAN_NAMES_PATCH):
            return plan, issues, []
        labels = [r.label() for r in names]
        self.state.steps.append(
            m.TraceStep(
                turn=self.state.turn, thought="plan names resolved by arguments", actions=tuple(labels)
            )
        )
        return resolved, [], labels

    def _refused(self, issues: list[PlanIssue]) -> NoReturn:
        kinds = sorted({i.kind for i in issues})
        answer = (
            f"The run stopped before any step ran: the plan was refused {self._tries()} "
            f"({', '.join(kinds)}). "
            f"{partial_answer(self.state.turn, self.state.calls)}"
        )
        raise Stop(m.RunState.FAILED, answer.strip(), InvalidInputError.__name__)

    def _tries(self) -> str:
        tries = self.config.agent.planning.corrections + 1
        return {1: "once", 2: "twice"}.get(tries, f"{tries} times")

    async def _answer(self) -> NoReturn:
        self._ask(prompts.PLAN_ANSWER)
        reply = await self._think()
        answer = reply.content.strip() or partial_answer(self.state.turn, self.state.calls)
        agent, calls = self.config.agent, self.state.calls
        missing = critic.unreported(answer, calls, agent.irreversible, agent.critic)
        if missing:  # one answer call only: state the facts rather than let the answer hide them
            answer = f"{answer}\n\nActions taken: {' '.join(missing)}"
        denied = any(c.outcome == m.ToolOutcome.DENIED for c in calls)
        acted = any(c.outcome == m.ToolOutcome.OK and c.tool in agent.irreversible for c in calls)
        raise Stop(m.RunState.DENIED if denied and not acted else m.RunState.COMPLETED, answer, None)

    async def _think(self) -> m.LlmResponse:
        self.state.turn += 1
        return await self.thinker.think(self.state.turn, tools=False)

    def _ask(self, text: str) -> None:
        self.state.messages.append(m.ChatMessage(role="user", content=text))

    def _max_steps(self) -> int:
        """The policy's cap, or what the run's tool-call budget has left, whichever is smaller."""
        left = self.guard.budgets.max_tool_calls - self.guard.spent.tool_calls
        return max(0, min(self.config.agent.planning.max_steps, left))

    def _catalogue(self) -> str:
        lines = []
        for spec in self.config.agent.registry:
            schema = json.dumps(spec.args_model.model_json_schema().get("properties", {}), sort_keys=True)
            fields = f"; result fields: {sorted(spec.result_model.model_fields)}" if spec.result_model else ""
            lines.append(f"- {spec.name}: {spec.description} Arguments: {schema}{fields}")
        return "\n".join(lines)

    def _trace(self, round_no: int, views: list[StepView]) -> None:
        actions = tuple(f"{v.id} {v.tool} [{v.state.value}]" for v in views)
        self.state.steps.append(
            m.TraceStep(turn=self.state.turn, thought=f"plan round {round_no}", actions=actions)
        )


def _issues_json(issues: list[PlanIssue]) -> str:
    return json.dumps([i.model_dump(mode="json", exclude_defaults=True) for i in issues])
