"""Failure semantics end to end: circuit breakers, fallbacks, payload safety and unclassified crashes.

Each test builds the worker itself (same arguments as worker.build_worker) so it can inject a fake
breaker clock, a dependency that is down, or a handler that misbehaves under a real tool's name.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter

from activities.breaker import BreakerBoard, BreakerState
from activities.llm.scripted import ScriptedReply
from activities.tools.activities import OPEN_NOTE
from activities.tools.payload import MAX_RESULT_BYTES, json_size
from agents.merchant_support.models import KbHit, SearchResult
from agents.merchant_support.tools import REGISTRY
from bench.tool_faults import ToolFaults
from core.models import AgentLimits, AgentRequest, AgentResult, RunState, ToolOutcome
from core.toolspec import Handler, ToolContext, ToolRegistry
from tests.conftest import DEMO_AGENTS, Harness, demo_with, scripted_provider, strict_worker
from tests.history_facts import attempts_by_activity
from tests.test_agent_workflow import answer, call, calls
from tests.test_breaker import FakeClock
from worker import build_replayer
from workflows.agent import AgentWorkflow

LOOKUP = calls(call("get_transaction", transaction_id="pay_ABC123"))
KB_SEARCH = calls(call("search_knowledge_base", query="duplicate charge refund"))
MAX_EVENT_BYTES = 256 * 1024


class Runs:
    """Starts runs on one worker, so its breakers carry state from one run to the next."""

    def __init__(self, harness: Harness, queue: str) -> None:
        self.harness, self.queue = harness, queue

    async def run(self, task: str) -> tuple[AgentResult, WorkflowHistory]:
        client = self.harness.env.client
        handle = await client.start_workflow(
            AgentWorkflow.run,
            AgentRequest(task=task, user_id="tester", limits=AgentLimits(max_turns=4)),
            id=f"wf-{uuid.uuid4().hex[:10]}",
            task_queue=self.queue,
        )
        result = await handle.result()
        history = await handle.fetch_history()
        # The deployment's converter: large payloads live in its store, not in the history.
        replayed = await build_replayer(DEMO_AGENTS, client.data_converter).replay_workflow(
            history, raise_on_replay_failure=False
        )
        assert replayed.replay_failure is None
        return result, history


@asynccontextmanager
async def worker(
    harness: Harness,
    scripts: dict[str, list[ScriptedReply]],
    *,
    faults: ToolFaults | None = None,
    breakers: BreakerBoard | None = None,
    registry: ToolRegistry = REGISTRY,
) -> AsyncIterator[Runs]:
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    agent = demo_with(registry)
    boards = {agent.name: breakers} if breakers is not None else None
    provider = scripted_provider(scripts)
    async with strict_worker(
        harness.env.client, queue, provider, harness.store, faults, agents=(agent,), breakers=boards
    ):
        yield Runs(harness, queue)


def with_handler(tool: str, handler: Handler) -> ToolRegistry:
    """The real catalog with one tool's handler swapped: same name, schema and retry policy."""
    return ToolRegistry([replace(s, handler=handler) if s.name == tool else s for s in REGISTRY])


def observation(result: AgentResult, index: int = 0) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(result.tool_calls[index].observation)
    return parsed


async def completed_results(
    history: WorkflowHistory, activity_type: str, converter: DataConverter
) -> list[dict[str, Any]]:
    """The results of every completed activity of this type, decoded as the deployment decodes them
    (a large result lives in the payload store; history holds its reference)."""
    names = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    payloads = [
        e.activity_task_completed_event_attributes.result.payloads[0]
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
        and names[e.activity_task_completed_event_attributes.scheduled_event_id] == activity_type
    ]
    return [value for value in await converter.decode(payloads)] if payloads else []


async def test_an_open_circuit_makes_zero_calls_to_the_dependency_until_the_cooldown(
    harness: Harness,
) -> None:
    clock = FakeClock()
    faults = ToolFaults(down={"get_transaction"})
    board = BreakerBoard.from_specs(REGISTRY, env="", clock=clock)
    scripts = {key: [LOOKUP, answer(f"{key} done")] for key in ("alpha", "bravo", "charlie", "delta")}
    async with worker(harness, scripts, faults=faults, breakers=board) as runs:
        # Run 1: three attempts reach the dead dependency and open the circuit; the 4th fails fast.
        result, history = await runs.run("alpha lookup")
        assert result.status == RunState.COMPLETED
        assert attempts_by_activity(history)["tool.merchant_support.get_transaction"] == 4
        assert faults.dependency_calls["get_transaction"] == 3
        seen = observation(result)
        assert (seen["error_type"], seen["retryable"]) == ("CircuitOpenError", False)
        assert "degraded" in seen["message"] and "do not call it again" in seen["message"]
        assert board.get("get_transaction").state is BreakerState.OPEN

        # Run 2, 29 s later: one attempt, refused without touching the dependency.
        clock.advance(29)
        result, history = await runs.run("bravo lookup")
        assert attempts_by_activity(history)["tool.merchant_support.get_transaction"] == 1
        assert faults.dependency_calls["get_transaction"] == 3
        assert observation(result)["error_type"] == "CircuitOpenError"
        assert "retry after ~1 s" in observation(result)["message"]

        # After the cool-down, with the dependency back: one probe gets through, then a second closes it.
        clock.advance(2)
        faults.down.clear()
        result, _ = await runs.run("charlie lookup")
        assert result.tool_calls[0].outcome == ToolOutcome.OK
        assert faults.dependency_calls["get_transaction"] == 4
        assert board.get("get_transaction").state is BreakerState.HALF_OPEN
        result, _ = await runs.run("delta lookup")
        assert observation(result)["result"]["transaction_id"] == "pay_ABC123"
        assert board.get("get_transaction").state is BreakerState.CLOSED


async def test_knowledge_base_down_serves_the_cached_fallback_as_degraded(harness: Harness) -> None:
    faults = ToolFaults(down={"search_knowledge_base"})
    scripts = {"policy": [KB_SEARCH, answer("Refund the later payment.")]}
    async with worker(harness, scripts, faults=faults) as runs:
        result, history = await runs.run("policy check")
    assert result.status == RunState.COMPLETED and result.answer == "Refund the later payment."
    # Three attempts opened the circuit; the fourth was answered from the cache without the store.
    assert attempts_by_activity(history)["tool.merchant_support.search_knowledge_base"] == 4
    assert faults.dependency_calls["search_knowledge_base"] == 3
    seen = observation(result)
    assert seen["ok"] is True and seen["degraded"] is True and seen["note"] == OPEN_NOTE
    assert seen["result"]["results"][0]["doc_id"] == "KB-001"


async def test_a_failing_last_attempt_falls_back_even_while_the_circuit_is_closed(harness: Harness) -> None:
    faults = ToolFaults(down={"search_knowledge_base"})
    board = BreakerBoard.from_specs(REGISTRY, env="search_knowledge_base=10/30/2")
    scripts = {"policy": [KB_SEARCH, answer("ok")]}
    async with worker(harness, scripts, faults=faults, breakers=board) as runs:
        result, history = await runs.run("policy again")
    spec = REGISTRY.get("search_knowledge_base")
    assert attempts_by_activity(history)["tool.merchant_support.search_knowledge_base"] == spec.max_attempts
    assert faults.dependency_calls["search_knowledge_base"] == spec.max_attempts
    seen = observation(result)
    assert seen["degraded"] is True
    assert seen["note"] == "primary unavailable (DependencyDownError): served from fallback"
    assert board.get("search_knowledge_base").state is BreakerState.CLOSED


async def huge_search(ctx: ToolContext, args: Any) -> SearchResult:
    snippet = "policy text " * 10_000  # 120 KB each, 3.6 MB in all
    return SearchResult(
        results=[KbHit(doc_id=f"KB-{n:03}", title="big", snippet=snippet, score=1.0) for n in range(30)]
    )


async def test_a_3mb_tool_output_is_truncated_and_the_run_completes(harness: Harness) -> None:
    raw = await huge_search(None, None)  # type: ignore[arg-type]
    assert json_size(raw.model_dump(mode="json")) > 3_000_000
    scripts = {"huge": [KB_SEARCH, answer("Read it.")]}
    async with worker(harness, scripts, registry=with_handler("search_knowledge_base", huge_search)) as runs:
        result, history = await runs.run("huge output")
    assert result.status == RunState.COMPLETED and result.answer == "Read it."
    [output] = await completed_results(
        history, "tool.merchant_support.search_knowledge_base", harness.env.client.data_converter
    )
    assert output["truncated"] is True and output["note"].startswith(f"truncated to fit {MAX_RESULT_BYTES}")
    assert json_size(output["result"]) <= MAX_RESULT_BYTES
    assert 0 < len(output["result"]["results"]) < 30
    biggest = max(e.ByteSize() for e in history.events)
    assert biggest < MAX_EVENT_BYTES, f"an event of {biggest} bytes reached history"


async def test_an_unclassified_crash_is_attempted_twice_then_observed(harness: Harness) -> None:
    faults = ToolFaults()

    async def crash(ctx: ToolContext, args: Any) -> SearchResult:
        raise RuntimeError("bug in the handler")

    scripts = {"crash": [LOOKUP, answer("Something broke.")]}
    registry = with_handler("get_transaction", crash)
    async with worker(harness, scripts, faults=faults, registry=registry) as runs:
        result, history = await runs.run("crash test")
    assert result.status == RunState.COMPLETED and result.answer == "Something broke."
    # get_transaction allows 5 attempts; an unclassified crash gets 2.
    assert REGISTRY.get("get_transaction").max_attempts == 5
    assert attempts_by_activity(history)["tool.merchant_support.get_transaction"] == 2
    assert faults.dependency_calls["get_transaction"] == 2
    record = result.tool_calls[0]
    assert (record.outcome, record.error_type) == (ToolOutcome.ERROR, "TransientError")
    seen = observation(result)
    assert "RuntimeError: bug in the handler" in seen["message"]
    assert "unclassified failure, gave up after 2 attempts" in seen["message"]
