"""Tools declared `local` run as local activities (issue 8): in the history, with the error taxonomy."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import pytest
from pydantic import BaseModel
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.llm.scripted import ScriptedReply, ScriptedToolCall
from agents.merchant_support import Store
from bench.agents import PERF
from bench.noop_tools import StepArgs, StepResult
from core.agent import Agent, Instructions, PromptVersion
from core.errors import NotFoundError, TransientError
from core.models import AgentLimits, AgentRequest, AgentResult, RunState, ToolOutcome
from core.toolspec import ToolContext, ToolSpec
from tests.conftest import DEMO, scripted_provider, strict_worker
from tests.history_facts import scheduled_activities
from tests.test_replay import replayer
from workflows.agent import AgentWorkflow

ATTEMPTS: Counter[str] = Counter()


async def missing(ctx: ToolContext[None], args: StepArgs) -> StepResult:
    ATTEMPTS["lookup_missing"] += 1
    raise NotFoundError(f"nothing under {args.i}")


async def flaky(ctx: ToolContext[None], args: StepArgs) -> StepResult:
    ATTEMPTS["lookup_flaky"] += 1
    if ATTEMPTS["lookup_flaky"] == 1:
        raise TransientError("blip")
    return StepResult(i=args.i)


def _local(name: str, handler: Any) -> ToolSpec:
    return ToolSpec(name=name, description=name, args_model=StepArgs, handler=handler, local=True)


LOCAL_TEST = Agent[None](
    name="local_test",
    instructions=Instructions(
        versions=(PromptVersion(version="local-v1", text="Look things up.", changelog="First."),),
        current="local-v1",
    ),
    tools=(_local("lookup_missing", missing), _local("lookup_flaky", flaky)),
)


def local_markers(history: WorkflowHistory) -> list[dict[str, Any]]:
    """The data of each local activity marker: activity_type, attempt, ..."""
    return [
        json.loads(e.marker_recorded_event_attributes.details["data"].payloads[0].data)
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]


async def run(
    env: WorkflowEnvironment, store: Store, agent: Agent[None], script: list[ScriptedReply]
) -> tuple[AgentResult, WorkflowHistory]:
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    provider = scripted_provider({"local tools": script})
    worker = strict_worker(env.client, queue, provider, store, agents=(agent,), deps={})
    async with worker:
        handle = await env.client.start_workflow(
            AgentWorkflow.run,
            AgentRequest(task="local tools", user_id="t", agent=agent.name, limits=AgentLimits(max_turns=4)),
            id=f"wf-{uuid.uuid4().hex[:10]}",
            task_queue=queue,
        )
        result = await handle.result()
        history = await handle.fetch_history()
    replayed = await replayer(agent).replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None
    return result, history


def step(name: str, i: int) -> ScriptedReply:
    return ScriptedReply(tool_calls=[ScriptedToolCall(name=name, arguments={"i": i})])


def test_a_tool_with_side_effects_cannot_be_local() -> None:
    for side_effect, irreversible in ((True, False), (False, True)):
        with pytest.raises(ValueError, match="cannot run as a local activity"):
            ToolSpec(
                name="x",
                description="x",
                args_model=BaseModel,
                handler=missing,
                local=True,
                side_effect=side_effect,
                irreversible=irreversible,
            )


def test_the_perf_tools_are_local_and_no_demo_tool_with_side_effects_is() -> None:
    assert all(spec.local for spec in PERF.tools)
    assert not any(spec.local for spec in DEMO.tools if spec.side_effect or spec.irreversible)


async def test_local_tools_leave_markers_not_scheduled_activities(
    env: WorkflowEnvironment, store: Store
) -> None:
    script = [step("noop_a", 0), step("noop_b", 1), ScriptedReply(content="done")]
    result, history = await run(env, store, PERF, script)
    assert result.status == RunState.COMPLETED
    assert [c.outcome for c in result.tool_calls] == [ToolOutcome.OK, ToolOutcome.OK]
    assert scheduled_activities(history) == ["llm.complete"] * 3  # the model call stays a real activity
    assert [m["activity_type"] for m in local_markers(history)] == ["tool.perf.noop_a", "tool.perf.noop_b"]


async def test_a_local_tools_non_retryable_error_is_not_retried_and_a_transient_one_is(
    env: WorkflowEnvironment, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ATTEMPTS.clear()
    script = [step("lookup_missing", 1), step("lookup_flaky", 2), ScriptedReply(content="done")]
    result, history = await run(env, store, LOCAL_TEST, script)
    assert result.status == RunState.COMPLETED
    failed, retried = result.tool_calls
    assert (failed.outcome, failed.error_type) == (ToolOutcome.ERROR, "NotFoundError")
    assert (retried.outcome, retried.error_type) == (ToolOutcome.OK, None)
    assert ATTEMPTS == {"lookup_missing": 1, "lookup_flaky": 2}
    assert [(m["activity_type"], m["attempt"]) for m in local_markers(history)] == [
        ("tool.local_test.lookup_missing", 1),
        ("tool.local_test.lookup_flaky", 2),
    ]
