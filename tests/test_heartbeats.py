"""Heartbeats: model calls and long tools beat while they wait, so a dead worker's call moves on fast."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from temporalio.api.enums.v1 import EventType
from temporalio.testing import ActivityEnvironment

from activities import heartbeat
from activities.heartbeat import heartbeating
from activities.llm.activity import LlmActivities
from core.models import ChatMessage, LlmRequest, LlmResponse
from core.toolspec import ToolSpec
from tests.conftest import Harness
from workflows.activity_options import LLM_HEARTBEAT_TIMEOUT


class _SlowProvider:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def complete(self, req: LlmRequest) -> LlmResponse:
        await asyncio.sleep(self.seconds)
        return LlmResponse(content="slow but alive", model="scripted")


def _request() -> LlmRequest:
    return LlmRequest(
        workflow_id="wf", turn=1, messages=(ChatMessage(role="user", content="hi"),), prompt_version="v"
    )


async def test_a_slow_model_call_beats_while_it_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    env, beats = ActivityEnvironment(), []
    env.on_heartbeat = lambda *details: beats.append(details)
    acts = LlmActivities(_SlowProvider(0.5))
    monkeypatch.setattr(heartbeat, "BEAT_EVERY", timedelta(milliseconds=100))
    reply = await env.run(acts.complete, _request())
    assert reply.content == "slow but alive"
    assert len(beats) >= 3  # ~5 beats in 0.5 s: a live call never looks dead to the server


async def test_outside_an_activity_it_only_awaits() -> None:
    assert await heartbeating(asyncio.sleep(0, result=7), every=timedelta(milliseconds=1)) == 7


async def test_the_awaited_call_is_cancelled_with_the_activity() -> None:
    env, started = ActivityEnvironment(), asyncio.Event()
    cancelled = asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def activity_body() -> None:
        await heartbeating(forever(), every=timedelta(milliseconds=50))

    task = asyncio.ensure_future(env.run(activity_body))
    await started.wait()
    env.cancel()
    with pytest.raises(BaseException):  # noqa: B017 - the SDK's own cancellation error
        await task
    assert cancelled.is_set()


class _Args(BaseModel):
    q: str


async def _noop(ctx: Any, args: Any) -> BaseModel:
    return args


def test_a_long_tool_must_declare_its_heartbeat() -> None:
    with pytest.raises(ValueError, match="needs a heartbeat_timeout"):
        ToolSpec("slow", "d", _Args, _noop, timeout=timedelta(minutes=2))
    with pytest.raises(ValueError, match="within"):
        ToolSpec("slow", "d", _Args, _noop, timeout=timedelta(minutes=2), heartbeat_timeout=timedelta(0))
    with pytest.raises(ValueError, match="cannot heartbeat"):
        ToolSpec("fast", "d", _Args, _noop, local=True, heartbeat_timeout=timedelta(seconds=10))
    spec = ToolSpec(
        "slow", "d", _Args, _noop, timeout=timedelta(minutes=2), heartbeat_timeout=timedelta(seconds=10)
    )
    assert spec.heartbeat_timeout == timedelta(seconds=10)


async def test_model_calls_are_scheduled_with_a_heartbeat_timeout(harness: Harness) -> None:
    from activities.llm.scripted import ScriptedReply

    _, history = await harness.run("heartbeat check", [ScriptedReply(content="Done.")])
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    llm = [a for a in scheduled if a.activity_type.name == "llm.complete"]
    assert llm and all(a.heartbeat_timeout.ToTimedelta() == LLM_HEARTBEAT_TIMEOUT for a in llm)
