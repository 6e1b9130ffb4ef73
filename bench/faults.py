"""Seeded fault injection for tests and benchmarks: tools that fail, a model that hallucinates.

Every decision is a hash of (seed, task id, turn, call, attempt), never global random state, so two
agents given the same plan and the same task meet exactly the same faults.

Tool faults fail the first `failures` attempts of one call and let a later attempt through:
  transient     TransientError for 1–2 attempts
  rate_limited  RateLimitedError (retry_after ≤ 1 s) for 1–2 attempts
  down          DependencyDownError for a window of `down_attempts` attempts
A retry policy that outlasts the window turns every retry into a success; one that does not wastes it.

Model faults (`FaultyModel`, a wrapper around any scripted `Policy`): on a turn that calls tools, at the
plan's rates the tool name becomes a plausible hallucination or the arguments become malformed. The
wrapper hides its own mistakes from the inner policy, so the next turn proposes the intended call again,
as a real model does once told the error and the closest tool names.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from temporalio import activity

from activities.llm.scripted import Policy, ScriptedReply, ScriptedToolCall, first_user_text
from core.errors import AgentError, DependencyDownError, RateLimitedError, TransientError
from core.toolspec import Handler, ToolContext, ToolRegistry, ToolSpec

FaultKind = Literal["transient", "rate_limited", "down"]
FAULT_KINDS: tuple[FaultKind, ...] = ("transient", "rate_limited", "down")


class ToolFaultRates(BaseModel):
    """Probability that one call of a tool meets each fault; at most one fault per call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    transient: float = Field(0.0, ge=0.0, le=1.0)
    rate_limited: float = Field(0.0, ge=0.0, le=1.0)
    down: float = Field(0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _at_most_one(self) -> ToolFaultRates:
        if self.transient + self.rate_limited + self.down > 1.0:
            raise ValueError("fault rates of one tool add up to more than 1")
        return self


@dataclass(frozen=True)
class ToolFault:
    kind: FaultKind
    failures: int  # attempts 1..failures fail; attempt failures+1 succeeds


class FaultPlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 42
    hallucination_rate: float = Field(0.28, ge=0.0, le=1.0)
    malformed_rate: float = Field(0.05, ge=0.0, le=1.0)
    tools: dict[str, ToolFaultRates] = Field(default_factory=dict)
    retry_after_s: float = Field(0.5, gt=0.0, le=1.0)
    # A "down" window lasts this many attempts (inclusive range, drawn per call).
    down_attempts: tuple[int, int] = (2, 4)

    def roll(self, *parts: object) -> float:
        """A uniform number in [0, 1) fixed by the seed and the parts."""
        key = "|".join([str(self.seed), *(str(p) for p in parts)]).encode()
        return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64

    def pick(self, options: tuple[Any, ...] | list[Any], *parts: object) -> Any:
        return options[int(self.roll(*parts) * len(options))]

    def tool_fault(self, task_id: int, tool: str, call: str) -> ToolFault | None:
        """The fault (if any) that call `call` (e.g. `t2-1`) of `tool` meets in task `task_id`."""
        rates = self.tools.get(tool)
        if rates is None:
            return None
        draw, edge = self.roll(task_id, tool, call, "fault"), 0.0
        for kind in FAULT_KINDS:
            edge += getattr(rates, kind)
            if draw < edge:
                low, high = (1, 2) if kind != "down" else self.down_attempts
                span = tuple(range(low, high + 1))
                return ToolFault(kind, int(self.pick(span, task_id, tool, call, "length")))
        return None

    def error_for(self, fault: ToolFault | None, tool: str, attempt: int) -> AgentError | None:
        """The error attempt `attempt` of a call raises, or None when it goes through."""
        if fault is None or attempt > fault.failures:
            return None
        where = f"injected: {tool} attempt {attempt}/{fault.failures}"
        if fault.kind == "transient":
            return TransientError(f"{where}: connection reset")
        if fault.kind == "rate_limited":
            return RateLimitedError(f"{where}: HTTP 429", retry_after=timedelta(seconds=self.retry_after_s))
        return DependencyDownError(f"{where}: dependency unavailable")


def task_id_of(workflow_id: str) -> int:
    """Bench workflow ids end in `-<task id>`; anything else counts as task 0."""
    tail = workflow_id.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


@dataclass(frozen=True)
class Attempt:
    """One tool attempt as seen by the fault wrapper; `error_type` None means it succeeded."""

    workflow_id: str
    call_id: str
    tool: str
    attempt: int
    error_type: str | None


async def run_with_faults(
    spec: ToolSpec, plan: FaultPlan, ctx: ToolContext, args: Any, attempt: int
) -> BaseModel | AgentError:
    """Run the tool, then let the plan fail this attempt: the result, or the error to raise."""
    try:
        # The tool checks its input first: a call that can never succeed is refused, not faulted.
        result = await spec.handler(ctx, args)
    except AgentError as err:
        return err
    fault = plan.tool_fault(task_id_of(ctx.workflow_id), spec.name, ctx.call_id)
    return plan.error_for(fault, spec.name, attempt) or result


def _faulty(spec: ToolSpec, plan: FaultPlan, log: list[Attempt] | None) -> Handler:
    async def handler(ctx: ToolContext, args: Any) -> BaseModel:
        attempt = activity.info().attempt if activity.in_activity() else 1
        outcome = await run_with_faults(spec, plan, ctx, args, attempt)
        if log is not None:
            error_type = outcome.type_name if isinstance(outcome, AgentError) else None
            log.append(Attempt(ctx.workflow_id, ctx.call_id, spec.name, attempt, error_type))
        if isinstance(outcome, AgentError):
            raise outcome
        return outcome

    return handler


def faulty_registry(
    registry: ToolRegistry, plan: FaultPlan, log: list[Attempt] | None = None
) -> ToolRegistry:
    """The same tools (names, schemas, retry policies) with handlers that fail as the plan says."""
    return ToolRegistry([replace(spec, handler=_faulty(spec, plan, log)) for spec in registry])


# ── model faults ────────────────────────────────────────────────────────────

HALLUCINATIONS: dict[str, tuple[str, ...]] = {
    "web_search": ("websearch", "search_web", "google_search"),
    "calculate": ("calculator", "calc", "python_eval"),
    "summarise": ("summarize_text", "summarize", "text_summary"),
}
_TASK_ID = re.compile(r"\btask[ #:]*(\d+)", re.IGNORECASE)


def hallucinated_names(tool: str) -> tuple[str, ...]:
    return HALLUCINATIONS.get(tool, (tool.replace("_", ""), f"{tool}_tool", f"run_{tool}"))


def malformed(plan: FaultPlan, call: ScriptedToolCall, *parts: object) -> ScriptedToolCall:
    """Arguments no tool accepts: broken JSON, a wrapper object, a wrong type, or prose arithmetic."""
    args = call.arguments if isinstance(call.arguments, dict) else {}
    kinds = ["json", "wrapped", "type"] + (["prose"] if "expression" in args else [])
    kind = plan.pick(tuple(kinds), *parts, "malformed-kind")
    if kind == "json":
        return ScriptedToolCall(name=call.name, arguments=json.dumps(args)[:-1] + ",")
    if kind == "wrapped":
        return ScriptedToolCall(name=call.name, arguments={"input": args})
    if kind == "prose":
        return ScriptedToolCall(
            name=call.name, arguments={**args, "expression": f"what is {args['expression']}"}
        )
    first = next(iter(args), "value")
    return ScriptedToolCall(name=call.name, arguments={**args, first: [args.get(first)]})


class FaultyModel:
    """A `Policy` that plays `inner` but hallucinates tool names and malforms arguments at set rates."""

    def __init__(self, inner: Policy, plan: FaultPlan) -> None:
        self.inner = inner
        self.plan = plan

    def corrupted(self, task_id: int, turn: int) -> str | None:
        """What goes wrong on turn `turn` (0-based) if it calls a tool: hallucinate, malform or nothing."""
        if self.plan.roll(task_id, turn, "hallucinate") < self.plan.hallucination_rate:
            return "hallucinate"
        if self.plan.roll(task_id, turn, "malform") < self.plan.malformed_rate:
            return "malform"
        return None

    def reply(self, messages: list[dict[str, Any]], tool_names: set[str]) -> ScriptedReply:
        task_id = self.task_id(messages)
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        reply = self.inner.reply(self.without_own_mistakes(messages, task_id), tool_names)
        fault = self.corrupted(task_id, turn)
        if not reply.tool_calls or fault is None:
            return reply
        first = reply.tool_calls[0]
        if fault == "hallucinate":
            name = self.plan.pick(hallucinated_names(first.name), task_id, turn, "name")
            first = ScriptedToolCall(name=name, arguments=first.arguments)
        else:
            first = malformed(self.plan, first, task_id, turn)
        return reply.model_copy(update={"tool_calls": [first, *reply.tool_calls[1:]]})

    def task_id(self, messages: list[dict[str, Any]]) -> int:
        match = _TASK_ID.search(first_user_text(messages))
        return int(match.group(1)) if match else 0

    def without_own_mistakes(self, messages: list[dict[str, Any]], task_id: int) -> list[dict[str, Any]]:
        """Drop the corrupted assistant turns and their observations: the inner model never made them."""
        kept: list[dict[str, Any]] = []
        turn, dropping = 0, False
        for message in messages:
            role = message.get("role")
            if role == "assistant":
                dropping = bool(message.get("tool_calls")) and self.corrupted(task_id, turn) is not None
                turn += 1
            elif role != "tool":
                dropping = False
            if not dropping:
                kept.append(message)
        return kept
