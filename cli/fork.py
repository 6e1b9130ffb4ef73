"""`fork RUN_ID --at-turn N`: a new run whose state is its parent's at the end of turn N.

The state comes from the parent's history alone: the history is cut just before turn N+1 asked the
model, and the workflow code itself replays it (a Replayer), rebuilding messages, calls, budgets spent
and the audit trail exactly as the parent had them. That state is the fork's starting `Carry`, so
turns ≤ N run nothing again (their replies and tool results are the parent's) and no side effect is
done twice. A call of turn N still waiting for its approval at that point is asked again in the fork.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    Replayer,
    UnsandboxedWorkflowRunner,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from cli import trace
from cli.errors import EXIT_FAILED, CliError
from client import AgentClient, RunHandle
from core import search_attributes as sa
from core.agent import PINNED, Agent
from core.models import AgentRequest, Carry, ChatMessage, ForkOrigin
from core.served import Served, for_replay
from workflows import carry as carrying
from workflows.agent import AgentWorkflow
from workflows.ledger import UserDayLedgerWorkflow

LLM = "llm.complete"
_CAPTURED: dict[str, Any] = {}  # workflow id → the replayed AgentWorkflow instance


async def fork(
    client: Client,
    agents: Sequence[Agent[Any]],
    task_queue: str,
    run_id: str,
    at_turn: int,
    *,
    prompt_version: str | None = None,
    model: str | None = None,
    fork_id: str | None = None,
) -> RunHandle:
    """Start the fork; CliError (typed) for an unknown run, a turn it never reached, or a run this
    deployment cannot resume (another agent, an unknown prompt version, a history that does not replay)."""
    history = await trace.fetch(client, run_id)
    parent = await _request_of(history, client)
    agent = _agent_of(parent.agent or _agent_name(history), agents, run_id)
    calls = await _llm_calls(history, client)
    ran = _version_ran(calls, parent, agent, prompt_version, run_id)
    cut = _cut(history, [(i, turn) for i, turn, _ in calls], parent, at_turn, run_id)
    state = await _replayed(await _pinned(cut, parent, ran, client), agents, client)
    handed = _carry_of(state, at_turn, run_id)
    handed = _with_version(handed, agent, prompt_version)
    origin = ForkOrigin(parent_id=run_id, at_turn=at_turn)
    request = parent.model_copy(
        update={
            "carry": handed,
            "fork": origin,
            "prompt_version": None,
            "model": parent.model.model_copy(update={"model": model}) if model else parent.model,
        }
    )
    runs = AgentClient(client, task_queue)
    new_id = fork_id or f"{run_id}-fork{at_turn}-{uuid.uuid4().hex[:6]}"
    version = handed.prompt_version
    return await runs.start(request, workflow_id=new_id, prompt_version=version, fork_parent=run_id)


async def _request_of(history: WorkflowHistory, client: Client) -> AgentRequest:
    started = history.events[0]
    if started.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        raise CliError("IncompatibleRunError", "the history does not start with the run's start event")
    attrs = started.workflow_execution_started_event_attributes
    if attrs.workflow_type.name != "AgentWorkflow":
        kind = attrs.workflow_type.name
        raise CliError("IncompatibleRunError", f"{history.workflow_id} is a {kind}, not an agent run")
    [request] = await client.data_converter.decode(list(attrs.input.payloads), [AgentRequest])
    if not isinstance(request, AgentRequest):
        raise CliError("IncompatibleRunError", f"{history.workflow_id}: its input is not an AgentRequest")
    return request


def _agent_name(history: WorkflowHistory) -> str:
    """The agent a run that named none ran (its worker's first): the AgentName it published."""
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            if sa.AGENT_NAME.name in fields:
                return str(json.loads(fields[sa.AGENT_NAME.name].data))
    return ""


def _agent_of(name: str, agents: Sequence[Agent[Any]], run_id: str) -> Agent[Any]:
    served = {a.name: a for a in agents}
    agent = served.get(name)
    if agent is None:
        raise CliError(
            "IncompatibleRunError",
            f"run {run_id} ran agent {name!r}, which this deployment does not serve ({sorted(served)})",
        )
    return agent


async def _llm_calls(history: WorkflowHistory, client: Client) -> list[tuple[int, int, str]]:
    """(event index, turn, prompt version) of every model call the history schedules, from its input
    (decoded by the client's converter: encrypted or stored payloads read too)."""
    found = []
    for index, event in enumerate(history.events):
        if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            continue
        attrs = event.activity_task_scheduled_event_attributes
        if attrs.activity_type.name == LLM and attrs.input.payloads:
            [data] = await client.data_converter.decode([attrs.input.payloads[0]])
            turn = data.get("turn") if isinstance(data, dict) else None
            if isinstance(turn, int):
                found.append((index, turn, str(data.get("prompt_version") or "")))
    return found


def _version_ran(
    calls: list[tuple[int, int, str]],
    parent: AgentRequest,
    agent: Agent[Any],
    wanted: str | None,
    run_id: str,
) -> str | None:
    """The prompt version the parent ran, to replay it as it ran; IncompatibleRunError when this
    deployment's agent no longer has it (unless the fork names the version it continues with)."""
    ran = next((version for _, _, version in calls if version), None) or parent.prompt_version
    if ran is None or agent.instructions.knows(ran):
        return ran
    if wanted is not None and agent.instructions.knows(wanted):
        return wanted  # the state is rebuilt with it; the fork's system message is that version's anyway
    known = [v.version for v in agent.instructions.versions]
    raise CliError(
        "IncompatibleRunError",
        f"run {run_id} ran prompt version {ran!r}, which {agent.name} no longer has ({known}): "
        "fork it with --prompt-version",
    )


async def _pinned(
    history: WorkflowHistory, parent: AgentRequest, version: str | None, client: Client
) -> WorkflowHistory:
    """The history with its request pinned to the version the parent ran: replayed today, the state
    is the parent's whatever the agent's channels say now."""
    if version is None or parent.prompt_version == version:
        return history
    started = HistoryEvent()
    started.CopyFrom(history.events[0])
    payloads = started.workflow_execution_started_event_attributes.input.payloads
    encoded = await client.data_converter.encode([parent.model_copy(update={"prompt_version": version})])
    del payloads[:]
    payloads.extend(encoded)
    return WorkflowHistory(history.workflow_id, [started, *history.events[1:]])


def _cut(
    history: WorkflowHistory, turns: list[tuple[int, int]], request: AgentRequest, at_turn: int, run_id: str
) -> WorkflowHistory:
    """The history up to the workflow task in which turn at_turn+1 would ask the model (or all of it)."""
    first = request.carry.turn if request.carry else 0
    last = max((turn for _, turn in turns), default=first)
    if at_turn > last:
        why = f"turn {at_turn} is beyond the last turn of run {run_id} ({last})"
        raise CliError("InvalidInputError", why)
    if at_turn < max(first, 1):
        why = f"this run of the chain starts after turn {first}" if first else "turns start at 1"
        raise CliError("InvalidInputError", f"cannot fork run {run_id} at turn {at_turn}: {why}")
    end = next((index for index, turn in turns if turn == at_turn + 1), len(history.events))
    started = [i for i, e in enumerate(history.events[:end]) if _is_task_started(e)]
    return WorkflowHistory(history.workflow_id, list(history.events[: started[-1] + 1]))


def _is_task_started(event: HistoryEvent) -> bool:
    return event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED


class _Capture(Interceptor):
    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _CaptureInbound


class _CaptureInbound(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        _CAPTURED[workflow.info().workflow_id] = workflow.instance()
        return await super().execute_workflow(input)


async def _replayed(history: WorkflowHistory, agents: Sequence[Agent[Any]], client: Client) -> Any:
    """The parent's workflow object after replaying `history`: its state as the parent had it there."""
    for_replay(Served.of(list(agents)))
    replayer = Replayer(
        workflows=[AgentWorkflow, UserDayLedgerWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),  # the state is read from the object afterwards
        interceptors=[_Capture()],
        data_converter=client.data_converter,
    )
    _CAPTURED.pop(history.workflow_id, None)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    instance = _CAPTURED.pop(history.workflow_id, None)
    if result.replay_failure is not None or instance is None:
        raise CliError(
            "IncompatibleRunError",
            f"run {history.workflow_id} cannot be resumed by this code: its history does not replay "
            f"({result.replay_failure})",
            EXIT_FAILED,
        )
    return instance


def _carry_of(instance: Any, at_turn: int, run_id: str) -> Carry:
    state, guard, human = instance._state, instance._guard, instance._human
    config = instance._config
    if guard is None or config is None:
        raise CliError("IncompatibleRunError", f"run {run_id} was refused at its start: nothing to fork")
    pending = dict(human.gate.pending)
    resume: tuple[Any, ...] = ()
    if pending:
        asked = [msg for msg in state.messages if msg.role == "assistant" and msg.tool_calls]
        calls = asked[-1].tool_calls if asked else ()
        if {c.id for c in calls} != set(pending):
            raise CliError(
                "InvalidInputError",
                f"turn {at_turn} of {run_id} has calls that finished beside one waiting for approval; "
                f"fork at turn {at_turn - 1}, or once the approval is decided",
            )
        resume = tuple(calls)
    handed = carrying.build(state, guard, human.gate, instance._progress, config.prompt_version)
    loop = handed.loop
    if resume:  # the loop detector saw them last in the parent: asked again, they are no repeat
        loop = loop.model_copy(update={"recent": loop.recent[: -len(resume)]})
    return handed.model_copy(
        update={
            "loop": loop,
            "turn": at_turn,
            "runs": 1,
            "resume_calls": resume,
            "prompt_channel": config.prompt_channel or "",
        }
    )


def _with_version(handed: Carry, agent: Agent[Any], version: str | None) -> Carry:
    """The carry at another prompt version: its system message is that version's text."""
    known = [v.version for v in agent.instructions.versions]
    if version is None:
        if handed.prompt_version not in known:
            raise CliError(
                "IncompatibleRunError",
                f"the parent ran prompt version {handed.prompt_version!r}, which {agent.name} no longer has "
                f"({known}): fork it with --prompt-version",
            )
        return handed
    text = agent.instructions.text(version)
    if text is None:
        raise CliError("InvalidInputError", f"agent {agent.name} has no prompt version {version!r} ({known})")
    messages = list(handed.messages)
    if messages and messages[0].role == "system":
        messages[0] = ChatMessage(role="system", content=text)
    pinned = {"messages": tuple(messages), "prompt_version": version, "prompt_channel": PINNED}
    return handed.model_copy(update=pinned)
