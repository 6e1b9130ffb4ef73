"""Prompt channels: the canary share is deterministic by workflow id, promote and rollback are the
channels file, every run records its version and channel, and keeps its version across continue-as-new."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import ScriptBook, ScriptedTransport
from agents.merchant_support import Store
from core import search_attributes as sa
from core.agent import CANARY, PINNED, STABLE, Agent, Channels, Instructions, PromptVersion, canary_bucket
from core.guardrails import ContextSettings
from core.models import AgentLimits, AgentRequest, Carry, RunState
from tests.conftest import DEMO, SCRIPTED_URL, result_or_task_failure, strict_worker
from tests.test_agent_workflow import answer
from tests.test_guardrails_workflow import lookups
from workflows.agent import AgentWorkflow
from workflows.config import resolve

V2 = DEMO.instructions.versions[0]
V3 = PromptVersion("support-v3", V2.text + "\nBe warm.", "a warmer closing line")


def with_channels(canary_percent: int, canary: str | None = "support-v3") -> Agent[Any]:
    channels = Channels(stable="support-v2", canary=canary, canary_percent=canary_percent)
    instructions = dataclasses.replace(
        DEMO.instructions, versions=(V2, V3), current="support-v2", channels=channels
    )
    return dataclasses.replace(DEMO, instructions=instructions)


def ids_in(canary: bool, percent: int, n: int = 1) -> list[str]:
    found: list[str] = []
    while len(found) < n:
        candidate = f"wf-{uuid.uuid4().hex[:10]}"
        if (canary_bucket(candidate) < percent) == canary:
            found.append(candidate)
    return found


def test_the_canary_share_is_deterministic_and_near_its_percent() -> None:
    channels = Channels(stable="a", canary="b", canary_percent=10)
    ids = [f"req-{i}" for i in range(2000)]
    first = [channels.choose(i) for i in ids]
    assert first == [channels.choose(i) for i in ids]  # same id, same version, on any worker
    share = sum(channel == CANARY for _, channel in first) / len(ids)
    assert 0.08 <= share <= 0.12
    assert all(c == STABLE for _, c in map(Channels(stable="a", canary="b").choose, ids))
    assert all(c == CANARY for _, c in map(Channels("a", "b", 100).choose, ids))


def test_promote_and_rollback_are_the_channels_file(tmp_path: Path) -> None:
    for version in (V2, V3):
        (tmp_path / f"{version.version}.md").write_text(f"changelog: {version.changelog}\n\n{version.text}")
    channels = tmp_path / "channels.json"
    channels.write_text(json.dumps({"stable": "support-v2", "canary": "support-v3", "canary_percent": 25}))
    rolling = Instructions.from_dir(tmp_path, current="support-v2")
    assert rolling.rollout == Channels("support-v2", "support-v3", 25) and rolling.current == "support-v2"
    channels.write_text(json.dumps({"stable": "support-v3"}))  # promoted
    promoted = Instructions.from_dir(tmp_path, current="support-v2")
    assert promoted.current == "support-v3" and promoted.rollout.choose("any") == ("support-v3", STABLE)
    channels.write_text(json.dumps({"stable": "support-v2", "canary": "support-v9"}))
    with pytest.raises(ValueError, match="support-v9"):
        Instructions.from_dir(tmp_path, current="support-v2")
    channels.write_text(json.dumps({"stable": "support-v2", "canary": "support-v3", "canary_percent": 101}))
    with pytest.raises(ValueError, match=r"0\.\.100"):
        Instructions.from_dir(tmp_path, current="support-v2")


def test_a_continued_run_keeps_its_version_whatever_the_channels_say_now() -> None:
    from core.served import Served

    carry = Carry.model_validate(
        {"prompt_version": "support-v3", "prompt_channel": CANARY, "messages": (), "turn": 2,
         "turn_limit": 8, "started_at": "2026-01-01T00:00:00Z"}
    )  # fmt: skip
    rolled_back = Served.of([with_channels(0, canary=None)])
    config = resolve(AgentRequest(task="t", carry=carry), rolled_back, "wf-any", channels=True)
    assert (config.prompt_version, config.prompt_channel) == ("support-v3", CANARY)


def recording_provider(scripts: dict[str, Any] | None = None) -> tuple[OpenAIProvider, ScriptedTransport]:
    transport = ScriptedTransport(ScriptBook(scripts or {}, fallback=DEMO.stand_in))
    return OpenAIProvider(SCRIPTED_URL, default_model="scripted", transport=transport), transport


async def channel_of(handle: WorkflowHandle[Any, Any]) -> str | None:
    return (await handle.describe()).typed_search_attributes.get(sa.AGENT_PROMPT_CHANNEL)


async def test_runs_get_their_channel_by_id_and_record_it(env: WorkflowEnvironment, store: Store) -> None:
    agent = with_channels(50)
    provider, wire = recording_provider()
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    [canary_id], [stable_id] = ids_in(True, 50), ids_in(False, 50)
    task = "What is the status of pay_ABC123?"
    seen = {}
    async with strict_worker(env.client, queue, provider, store, agents=(agent,)):
        pinned_id = f"wf-{uuid.uuid4().hex[:10]}"
        for run_id, pinned in ((canary_id, None), (stable_id, None), (pinned_id, "support-v3")):
            request = AgentRequest(task=task, prompt_version=pinned)
            handle = await env.client.start_workflow(AgentWorkflow.run, request, id=run_id, task_queue=queue)
            result = await result_or_task_failure(handle)
            seen[run_id] = (result.prompt_version, result.prompt_channel, await channel_of(handle))
            assert result.status == RunState.COMPLETED
            sent = wire.requests[-1]["messages"][0]["content"]
            assert sent == agent.instructions.text(result.prompt_version)
        refused = await env.client.start_workflow(
            AgentWorkflow.run, AgentRequest(task=task, prompt_version="support-v9"),
            id=f"wf-{uuid.uuid4().hex[:10]}", task_queue=queue,
        )  # fmt: skip
        failed = await result_or_task_failure(refused)
    assert seen[canary_id] == ("support-v3", CANARY, CANARY)
    assert seen[stable_id] == ("support-v2", STABLE, STABLE)
    assert seen[pinned_id] == ("support-v3", PINNED, PINNED)
    assert failed.status == RunState.FAILED and "support-v9" in failed.answer


async def test_a_canary_run_keeps_its_version_across_continue_as_new(
    env: WorkflowEnvironment, store: Store
) -> None:
    agent = with_channels(50)
    task = "five lookups, two turns per run"
    provider, wire = recording_provider({task: [*lookups(4), answer("All looked up.")]})
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    [run_id] = ids_in(True, 50)
    request = AgentRequest(
        task=task,
        limits=AgentLimits(max_turns=6),
        context=ContextSettings(turns_per_run=2),
    )
    async with strict_worker(env.client, queue, provider, store, agents=(agent,)):
        handle = await env.client.start_workflow(AgentWorkflow.run, request, id=run_id, task_queue=queue)
        result = await result_or_task_failure(handle)
        channel = await channel_of(env.client.get_workflow_handle(run_id))
    assert result.status == RunState.COMPLETED and result.runs >= 2, result
    assert (result.prompt_version, result.prompt_channel, channel) == ("support-v3", CANARY, CANARY)
    systems = {body["messages"][0]["content"] for body in wire.requests}
    assert systems == {agent.instructions.text("support-v3")}
