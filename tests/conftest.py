"""Shared fixtures: one time-skipping server per session, a fresh task queue and store per test."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.registry import LlmProvider, ModelRegistry
from activities.llm.scripted import ScriptBook, ScriptedReply, ScriptedTransport
from agents import merchant_support, shop
from agents.merchant_support import Store
from bench.tool_faults import ToolFaults
from core.agent import Agent
from core.models import AgentLimits, AgentRequest, AgentResult
from core.payload_store import payload_storage
from core.search_attributes import CLI_TYPES
from core.toolspec import ToolRegistry
from core.worker_options import worker_options
from worker import build_worker
from workflows.agent import AgentWorkflow

BIN = Path(sys.executable).parent
SCRIPTED_URL = "http://scripted.invalid/v1"


async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    kinds = {
        "Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
        "Double": IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    }
    attributes = {name: kinds[kind] for name, kind in CLI_TYPES.items()}
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(namespace=namespace, search_attributes=attributes)
    )


async def time_skipping_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
    # The deployment's converter: pydantic, plus the external store for payloads over 16 KB.
    converter = dataclasses.replace(
        pydantic_data_converter, external_storage=payload_storage(tmp_path_factory.mktemp("store"))
    )
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"), data_converter=converter
    )
    await register_search_attributes(environment.client)
    yield environment
    await environment.shutdown()


# One time-skipping server per test module: the test server stops skipping time for good once a run it
# holds has a workflow task nobody will pick up (a worker a test stopped or killed), and every later
# test that waits on a timer would then wait in real time. Per module, such a leftover stays in its module.
@pytest.fixture(scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
    async for environment in time_skipping_env(tmp_path_factory):
        yield environment


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path)


def scripted_provider(
    scripts: dict[str, list[ScriptedReply]], api_key: str | None = None, *, streams: bool = False
) -> OpenAIProvider:
    """`streams`: a request for a stream is answered in word-sized chunks, 10 ms apart."""
    transport = ScriptedTransport(
        ScriptBook(scripts), streams=streams, piece_delay_s=0.01 if streams else 0.0
    )
    return OpenAIProvider(
        base_url=SCRIPTED_URL, api_key=api_key, default_model="scripted", transport=transport
    )


def scripted_models(scripts: dict[str, list[ScriptedReply]], *names: str) -> ModelRegistry:
    """One scripted model served under several names (the first is the default), each priced as the
    worker prices that name (`acme-*`: unpriced, so only a run's own budgets.price can pay for it)."""
    transport = ScriptedTransport(ScriptBook(scripts))
    providers: dict[str, LlmProvider] = {
        name: OpenAIProvider(base_url=SCRIPTED_URL, default_model=name, transport=transport)
        for name in names or ("scripted",)
    }
    return ModelRegistry(default=next(iter(providers)), providers=providers)


# The agent most tests run: the merchant-support demo, on the test's own store.
DEMO = merchant_support.AGENT
SHOP = shop.AGENT
DEMO_AGENTS: tuple[Agent[Any], ...] = (DEMO, SHOP)


def demo_with(registry: ToolRegistry) -> Agent[Any]:
    """The demo agent with these tools (e.g. one handler swapped): same name, prompts and policies."""
    escalation = DEMO.escalation
    if escalation.tool is not None and escalation.tool not in registry.names():
        escalation = dataclasses.replace(escalation, tool=None)
    # Approver rules only for the irreversible tools these tools keep.
    irreversible = {spec.name for spec in registry if spec.irreversible}
    approvers = tuple(rule for rule in DEMO.approvers if rule.tool in irreversible)
    return dataclasses.replace(DEMO, tools=tuple(registry), escalation=escalation, approvers=approvers)


def strict_worker(
    client: Client,
    queue: str,
    provider: Any,
    store: Store,
    faults: ToolFaults | None = None,
    agents: tuple[Agent[Any], ...] = (DEMO,),
    deps: dict[str, Any] | None = None,
    breakers: dict[str, Any] | None = None,
) -> Worker:
    """The production worker (worker.build_worker) on production's options, made strict: the sandbox
    and a cache of 0, so every workflow task replays from history (core/worker_options.py)."""
    served_deps = deps if deps is not None else {DEMO.name: store}
    options = worker_options({}, strict=True)
    return build_worker(client, queue, agents, provider, served_deps, faults, breakers, **options)


class WorkflowTaskFailed(AssertionError):
    """A workflow task failed: a bug in workflow code that production would retry forever."""


async def result_or_task_failure(handle: WorkflowHandle[Any, Any], poll_s: float = 0.25) -> Any:
    """The run's result, or WorkflowTaskFailed as soon as a task fails (instead of hanging the test)."""
    result = asyncio.ensure_future(handle.result())
    try:
        while True:
            done, _ = await asyncio.wait({result}, timeout=poll_s)
            if done:
                return result.result()
            failure = await task_failure(handle)
            if failure is not None:
                # A run whose task is pending forever would stop the shared test server's time skipping.
                await handle.terminate("workflow task failed: the test reports it")
                raise WorkflowTaskFailed(f"workflow task of {handle.id} failed: {failure}")
    finally:
        result.cancel()
        # Let the cancelled wait re-lock the test server's time skipping before anything else runs.
        with contextlib.suppress(BaseException):
            await result


async def task_failure(handle: WorkflowHandle[Any, Any]) -> str | None:
    """The message of the run's first failed workflow task, or None while none failed."""
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            attrs = event.workflow_task_failed_event_attributes
            return f"{EventType.Name(event.event_type)} ({attrs.failure.message})"
    return None


@dataclass
class Harness:
    """Runs AgentWorkflow on a fresh task queue with a scripted model; every task forces a replay."""

    env: WorkflowEnvironment
    store: Store
    histories: list[WorkflowHistory] = field(default_factory=list)

    async def run(
        self,
        task: str,
        script: list[ScriptedReply],
        *,
        max_turns: int = 8,
        faults: ToolFaults | None = None,
        provider: Any = None,
        during: Callable[[WorkflowHandle[Any, AgentResult]], Awaitable[None]] | None = None,
        workflow_id: str | None = None,
        agent: Agent[Any] = DEMO,  # the demo agent, or a variant of it under the same name
    ) -> tuple[AgentResult, WorkflowHistory]:
        queue = f"tq-{uuid.uuid4().hex[:8]}"
        provider = provider or scripted_provider({task: script})
        worker = strict_worker(self.env.client, queue, provider, self.store, faults, agents=(agent,))
        async with worker:
            handle = await self.env.client.start_workflow(
                AgentWorkflow.run,
                AgentRequest(task=task, user_id="tester", limits=AgentLimits(max_turns=max_turns)),
                id=workflow_id or f"wf-{uuid.uuid4().hex[:10]}",
                task_queue=queue,
            )
            if during is not None:
                await during(handle)
            result = await result_or_task_failure(handle)
            history = await handle.fetch_history()
        self.histories.append(history)
        largest = max_payload_bytes(history)
        assert largest <= MAX_PAYLOAD_BYTES, f"a payload of {largest} bytes in {handle.id}'s history"
        return result, history


# Issue 5: no activity input or output in any test history exceeds 256 KB.
MAX_PAYLOAD_BYTES = 256 * 1024


ACTIVITY_PAYLOAD_EVENTS = (
    "activity_task_scheduled_event_attributes",  # inputs
    "activity_task_completed_event_attributes",  # outputs
)


def max_payload_bytes(history: WorkflowHistory) -> int:
    """The largest activity input or output in a history (signals carry what their sender sent)."""
    largest = 0
    for event in history.events:
        for descriptor, value in event.ListFields():
            if descriptor.name in ACTIVITY_PAYLOAD_EVENTS:
                largest = max(largest, _largest_payload(value))
    return largest


def _largest_payload(value: Any) -> int:
    """Walk a protobuf value (message, repeated field or map) for its largest Payload."""
    from collections.abc import Mapping

    from google.protobuf.message import Message
    from temporalio.api.common.v1 import Payload

    if isinstance(value, Payload):
        return value.ByteSize()
    if isinstance(value, Message):
        return max((_largest_payload(v) for _, v in value.ListFields()), default=0)
    if isinstance(value, Mapping):
        return max((_largest_payload(v) for v in value.values()), default=0)
    if isinstance(value, (list, tuple)) or type(value).__name__.startswith("Repeated"):
        return max((_largest_payload(v) for v in value), default=0)
    return 0


@pytest.fixture
def harness(env: WorkflowEnvironment, store: Store) -> Harness:
    return Harness(env, store)
