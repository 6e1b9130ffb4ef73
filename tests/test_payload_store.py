"""Large payloads live outside history: the local driver, and a run whose prompts exceed the threshold."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import StorageDriverClaim, StorageDriverRetrieveContext, StorageDriverStoreContext

from core.payload_store import LocalFileDriver, PayloadMissingError, payload_storage
from tests.conftest import DEMO_AGENTS, Harness
from tests.test_agent_workflow import answer, call, calls
from worker import build_replayer


def files_in(root: Path) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file())


def tamper(root: Path) -> None:
    next(p for p in root.rglob("*") if p.is_file()).write_bytes(b"tampered")


async def test_local_driver_round_trip_is_content_addressed(tmp_path: Path) -> None:
    driver = LocalFileDriver(tmp_path)
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b'"x"' * 10_000)
    first = await driver.store(StorageDriverStoreContext(), [payload])
    again = await driver.store(StorageDriverStoreContext(), [payload])
    assert first == again and files_in(tmp_path) == 1  # content-addressed: stored once
    [back] = await driver.retrieve(StorageDriverRetrieveContext(), first)
    assert back == payload


async def test_a_missing_or_corrupt_payload_is_a_clear_error(tmp_path: Path) -> None:
    driver = LocalFileDriver(tmp_path)
    with pytest.raises(PayloadMissingError, match="must share"):
        await driver.retrieve(StorageDriverRetrieveContext(), [StorageDriverClaim({"sha256": "ab" * 32})])
    [claim] = await driver.store(StorageDriverStoreContext(), [Payload(data=b"hello")])
    tamper(tmp_path)
    with pytest.raises(PayloadMissingError, match="corrupt"):
        await driver.retrieve(StorageDriverRetrieveContext(), [claim])


async def test_long_prompts_leave_history_and_the_run_replays(harness: Harness, tmp_path: Path) -> None:
    task = "Merchant notes follow. " + "The customer wrote a very long message about pay_ABC123. " * 400
    result, history = await harness.run(
        task[:19_000], [calls(call("get_transaction", transaction_id="pay_ABC123")), answer("Checked.")]
    )
    assert result.status.value == "completed"
    inputs = [
        e.activity_task_scheduled_event_attributes.input.payloads[0]
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "llm.complete"
    ]
    assert inputs and all(p.ByteSize() < 2_000 for p in inputs)  # a reference, not a 20 KB prompt
    assert all(b"external-storage" in p.metadata.get("encoding", b"") or p.external_payloads for p in inputs)
    # The history replays with the deployment's converter (which can fetch the stored payloads) ...
    converter = harness.env.client.data_converter
    assert (await build_replayer(DEMO_AGENTS, converter).replay_workflow(history)) is not None
    # ... and not with a store that lacks them: no silent fallback to something else.
    elsewhere = dataclasses.replace(pydantic_data_converter, external_storage=payload_storage(tmp_path))
    failed = await build_replayer(DEMO_AGENTS, elsewhere).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert failed.replay_failure is not None
