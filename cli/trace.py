"""`trace ID`: the reasoning chain rebuilt from the run's Temporal history alone.

No worker and no query: the activities' inputs and results in history hold every prompt, reply,
tool call and observation, so the report works for finished, failed and terminated runs and for
runs recorded by older code (payloads are read as plain JSON, not as today's models).
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.service import RPCError

from cli.errors import EXIT_BY_STATE, EXIT_FAILED, EXIT_OK, run_unreadable
from cli.history import Act, Json, read
from cli.trace_render import render as render  # the report's text, for `trace`
from core.models import RunState
from workflows import observations

LLM = "llm.complete"
_CALL_TURN = re.compile(r"^t(\d+)-")
_PLAN_STEP = re.compile(r"^p\d+-s\d+$")


class Call(BaseModel):
    call_id: str
    tool: str
    args: Json
    outcome: str = "pending"  # ok | error | rejected | denied | pending
    error_type: str | None = None
    observation: str | None = None
    attempts: int = 0
    latency_ms: float | None = None


class Turn(BaseModel):
    turn: int
    thought: str = ""
    calls: list[Call] = []
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float | None = None
    attempts: int = 0
    error: str | None = None


class FailureReport(BaseModel):
    step: str
    turn: int | None
    error_type: str
    message: str
    attempts: int
    last_prompt: list[Json]


class Totals(BaseModel):
    turns: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    tool_calls: int = 0


class TraceReport(BaseModel):
    workflow_id: str
    execution: str  # completed | failed | terminated | timed_out | canceled | running | ...
    status: str | None  # the AgentResult's status, when the run returned one
    task: str | None
    answer: str | None
    stop_reason: str | None
    turns: list[Turn]
    signals: list[Json]
    totals: Totals
    failure: FailureReport | None
    # A fork's parent and the turn it forked at: turns up to it are the parent's, not in this history.
    forked_from: Json | None = None
    plan: list[Json] = []  # plan mode: every step of every round, with its state


async def fetch(client: Client, workflow_id: str) -> WorkflowHistory:
    try:
        return await client.get_workflow_handle(workflow_id).fetch_history()
    except RPCError as exc:
        raise run_unreadable(exc, workflow_id) from None


async def trace(client: Client, workflow_id: str) -> tuple[int, Json]:
    report = await build_report(await fetch(client, workflow_id), client.data_converter)
    # The same exit codes as `status`: by the agent's outcome, else failed when Temporal ended the run.
    if report.status is not None and report.status in {s.value for s in RunState}:
        code = EXIT_BY_STATE[RunState(report.status)]
    else:
        code = EXIT_FAILED if report.failure is not None else EXIT_OK
    return code, report.model_dump(mode="json")


def _turn_of(act: Act) -> int | None:
    if act.activity_type == LLM:
        turn = act.input.get("turn")
        return turn if isinstance(turn, int) else None
    match = _CALL_TURN.match(str(act.input.get("call_id", "")))
    return int(match.group(1)) if match else None


def _think(turn: int, act: Act) -> Turn:
    step = Turn(turn=turn, latency_ms=act.latency_ms, attempts=act.attempts)
    reply = act.result
    if reply is None:
        step.error = f"{act.error_type}: {act.error}" if act.error_type else "in flight"
        return step
    usage = reply.get("usage") or {}
    step.thought = str(reply.get("content") or "")
    step.prompt_tokens, step.completion_tokens = (
        usage.get("prompt_tokens", 0),
        usage.get("completion_tokens", 0),
    )
    step.cost_usd, step.error = float(reply.get("cost_usd") or 0.0), reply.get("parse_error")
    if step.error is None:  # a reply that failed to parse runs no calls (the workflow's rule)
        step.calls = [
            Call(call_id=f"t{turn}-{n}", tool=str(c.get("name")), args=c.get("arguments") or {})
            for n, c in enumerate(reply.get("tool_calls") or (), start=1)
        ]
    return step


def _act(call: Call, act: Act) -> None:
    """A tool activity (or its precheck) ran for this call; the observation as the workflow writes it."""
    call.attempts += act.attempts
    call.args = act.input.get("args") or call.args  # as validated by the workflow, defaults filled in
    call.latency_ms = (call.latency_ms or 0.0) + (act.latency_ms or 0.0)
    if act.error_type is not None:
        call.outcome, call.error_type = "error", act.error_type
        call.observation = observations.failure(act.error_type, act.error or "")
    elif act.result is not None and not act.activity_type.endswith(".precheck"):
        out = act.result
        call.outcome = "ok"
        call.observation = observations.success(out.get("result"), out.get("note"), bool(out.get("degraded")))


def _observe(call: Call, seen: dict[str, str]) -> None:
    """What the model read back; a call that ran no activity was refused in routing or by a human."""
    call.observation = seen.get(call.call_id, call.observation)
    if call.outcome != "pending" or call.observation is None:
        return
    try:
        call.error_type = json.loads(call.observation).get("error_type")
    except (ValueError, AttributeError):
        call.error_type = None
    call.outcome = "denied" if call.error_type == "PermissionDeniedError" else "rejected"


def _plan_steps(turns: dict[int, Turn], acts: list[Act], recorded: dict[str, Json]) -> None:
    """A plan's steps (call ids p<round>-s<step>) come from the planner's plan, not from a reply's
    tool calls: each joins the turn the run recorded it in, with the activities it ran."""
    known = {c.call_id for t in turns.values() for c in t.calls}
    for call_id, record in recorded.items():
        turn = record.get("turn")
        if call_id in known or not _PLAN_STEP.match(call_id) or not isinstance(turn, int):
            continue
        step = turns.setdefault(turn, Turn(turn=turn))
        call = Call(call_id=call_id, tool=str(record.get("tool")), args=record.get("args") or {})
        for act in acts:
            if act.activity_type != LLM and act.input.get("call_id") == call_id:
                _act(call, act)
        step.calls.append(call)


def _turns(acts: list[Act], result: Json) -> list[Turn]:
    turns: dict[int, Turn] = {}
    # Observations as the model saw them (tool messages of later prompts), and the result's for the last turn.
    recorded = {str(c.get("call_id")): c for c in result.get("tool_calls") or ()}
    seen = {call_id: str(c.get("observation")) for call_id, c in recorded.items()}
    for act in acts:
        turn = _turn_of(act)
        if act.activity_type == LLM and turn is not None:
            turns[turn] = _think(turn, act)
            for message in act.input.get("messages") or ():
                if message.get("role") == "tool" and message.get("tool_call_id"):
                    seen[message["tool_call_id"]] = str(message.get("content", ""))
        elif turn is not None and turn in turns:
            for call in turns[turn].calls:
                if call.call_id == act.input.get("call_id"):
                    _act(call, act)
    _plan_steps(turns, acts, recorded)
    for step in turns.values():
        for call in step.calls:
            _observe(call, seen)
            call.args = recorded.get(call.call_id, {}).get("args") or call.args
    return [turns[k] for k in sorted(turns)]


def _culprit(acts: list[Act], agent_failed: bool) -> Act | None:
    """The failing step: the last failed (or never finished) activity; for the agent, its model call."""
    culprits = [a for a in acts if a.error_type is not None or a.ended is None]
    if agent_failed:
        culprits = [a for a in culprits if a.activity_type == LLM] or culprits
    return culprits[-1] if culprits else None


def _failure_report(acts: list[Act], run: Json, result: Json) -> FailureReport | None:
    agent_failed = result.get("status") == "failed"
    if not agent_failed and run["execution"] in ("completed", "running", "continued_as_new"):
        return None
    prompts = [a for a in acts if a.activity_type == LLM]
    last_prompt = list(prompts[-1].input.get("messages") or []) if prompts else []
    error_type, message = run.get("error") or (
        result.get("stop_reason") or "Failed",
        result.get("answer", ""),
    )
    culprit = _culprit(acts, agent_failed)
    if culprit is None:  # e.g. refused before any activity, or terminated between steps
        return FailureReport(
            step="workflow",
            turn=None,
            error_type=error_type,
            message=message,
            attempts=0,
            last_prompt=last_prompt,
        )
    return FailureReport(
        step=culprit.activity_type + (" (in flight)" if culprit.ended is None else ""),
        turn=_turn_of(culprit),
        error_type=culprit.error_type or error_type,
        message=culprit.error or message,
        attempts=culprit.attempts,
        last_prompt=last_prompt,
    )


async def build_report(history: WorkflowHistory, converter: DataConverter | None = None) -> TraceReport:
    acts, signals, run = await read(history, converter)
    result: Json = run["result"] if isinstance(run.get("result"), dict) else {}
    request: Json = run["request"] if isinstance(run.get("request"), dict) else {}
    turns = _turns(acts, result)
    totals = Totals(
        turns=len(turns),
        prompt_tokens=sum(t.prompt_tokens for t in turns),
        completion_tokens=sum(t.completion_tokens for t in turns),
        cost_usd=round(sum(t.cost_usd for t in turns), 6),
        tool_calls=sum(len(t.calls) for t in turns),
    )
    return TraceReport(
        workflow_id=history.workflow_id,
        execution=run["execution"],
        status=result.get("status"),
        task=request.get("task"),
        answer=result.get("answer"),
        stop_reason=result.get("stop_reason"),
        turns=turns,
        signals=signals,
        totals=totals,
        failure=_failure_report(acts, run, result),
        forked_from=request.get("fork") if isinstance(request.get("fork"), dict) else None,
        plan=[step for step in result.get("plan") or [] if isinstance(step, dict)],
    )
