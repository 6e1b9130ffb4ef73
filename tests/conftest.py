"""Shared fixtures: one time-skipping server per session, a fresh task queue and store per test."""

from __future__ import annotations

import dataclasses
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import ScriptBook, ScriptedReply, ScriptedTransport
from activities.tools.activities import ToolFaults
from activities.tools.store import Store
from core.models import AgentLimits, AgentRequest, AgentResult
from core.payload_store import payload_storage
from core.search_attributes import AGENT_COST_USD, AGENT_PROMPT_VERSION, AGENT_STATUS, AGENT_TURNS, AGENT_USER
from worker import build_worker

BIN = Path(sys.executable).parent
SCRIPTED_URL = "http://scripted.invalid/v1"


async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    kinds: dict[SearchAttributeKey[Any], IndexedValueType.ValueType] = {
        AGENT_STATUS: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        AGENT_USER: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        AGENT_PROMPT_VERSION: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        AGENT_TURNS: IndexedValueType.INDEXED_VALUE_TYPE_INT,
        AGENT_COST_USD: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    }
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace, search_attributes={k.name: v for k, v in kinds.items()}
        )
    )


@pytest.fixture(scope="session")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[WorkflowEnvironment]:
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


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path)


def scripted_provider(scripts: dict[str, list[ScriptedReply]], api_key: str | None = None) -> OpenAIProvider:
    return OpenAIProvider(
        base_url=SCRIPTED_URL,
        api_key=api_key,
        default_model="scripted",
        transport=ScriptedTransport(ScriptBook(scripts)),
    )


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
    ) -> tuple[AgentResult, WorkflowHistory]:
        queue = f"tq-{uuid.uuid4().hex[:8]}"
        provider = provider or scripted_provider({task: script})
        worker = build_worker(
            self.env.client,
            queue,
            provider,
            self.store,
            faults,
            max_cached_workflows=0,  # every workflow task replays from history: determinism is tested
            workflow_failure_exception_types=[Exception],  # a sandbox error fails the test, not hangs it
        )
        async with worker:
            handle = await self.env.client.start_workflow(
                "AgentWorkflow",
                AgentRequest(task=task, user_id="tester", limits=AgentLimits(max_turns=max_turns)),
                id=workflow_id or f"wf-{uuid.uuid4().hex[:10]}",
                task_queue=queue,
                result_type=AgentResult,
            )
            if during is not None:
                await during(handle)
            result = await handle.result()
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
