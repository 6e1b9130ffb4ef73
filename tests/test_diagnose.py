"""`status` and `run`'s live progress say why a run is not moving: no worker, a failing task, a human."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from agents.merchant_support import Store
from cli import inspect, runs
from cli.diagnose import Stall, diagnose
from cli.errors import EXIT_HUMAN
from core.client import connect
from core.config import Settings
from core.models import AgentRequest
from core.worker_options import worker_options
from tests.broken_workflow import DividesByZero
from tests.conftest import DEMO, scripted_provider
from tests.live_stack import running_server
from tests.test_agent_workflow import REFUND, answer, calls
from worker import build_worker


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with running_server(tmp_path_factory.mktemp("diagnose")) as (address, _):
        yield address


@pytest.fixture
async def client(server: str) -> AsyncIterator[Client]:
    yield await connect(Settings(temporal_address=server))


async def eventually(client: Client, handle: Any, stall: Stall, timeout_s: float = 20.0) -> Any:
    for _ in range(int(timeout_s / 0.25)):
        found = await diagnose(client, handle)
        if found is not None and found.stall == stall:
            return found
        await asyncio.sleep(0.25)
    raise AssertionError(f"never diagnosed {stall}: last {found}")


async def test_a_run_nobody_polls_for_says_so(client: Client) -> None:
    queue = f"nobody-{uuid.uuid4().hex[:6]}"
    settings = Settings(task_queue=queue)
    handle = await runs.start(client, settings, AgentRequest(task="anyone there?"), None)
    _, data = await inspect.status(handle, client)
    assert data["stall"]["stall"] == "no_worker" and queue in data["stall"]["message"]
    lines: list[str] = []
    follow = asyncio.ensure_future(runs.follow(handle, lines.append, client=client))
    for _ in range(60):
        if any("not moving: no worker is polling" in line for line in lines):
            break
        await asyncio.sleep(0.25)
    follow.cancel()
    assert any(f"no worker is polling task queue '{queue}'" in line for line in lines), lines


async def test_a_failing_workflow_task_is_named_with_its_failure(client: Client) -> None:
    queue = f"buggy-{uuid.uuid4().hex[:6]}"
    async with Worker(client, task_queue=queue, workflows=[DividesByZero], **worker_options({})):
        handle = await client.start_workflow(DividesByZero.run, 0, id=f"bug-{queue}", task_queue=queue)
        found = await eventually(client, handle, Stall.TASK_FAILING)
        assert (
            "division by zero" in (found.last_failure or "") and "workflow task is failing" in found.message
        )
        _, data = await inspect.status(handle, client)
    assert data["stall"]["stall"] == "task_failing" and "division by zero" in data["stall"]["message"]
    await handle.terminate("test over")


async def test_a_run_waiting_for_approval_says_it_waits_for_a_human(client: Client, tmp_path: Path) -> None:
    queue = f"human-{uuid.uuid4().hex[:6]}"
    task = "refund pay_ABC124"
    provider = scripted_provider({task: [calls(REFUND), answer("done")]})
    async with build_worker(client, queue, [DEMO], provider, {DEMO.name: Store.open(tmp_path)}):
        handle = await runs.start(client, Settings(task_queue=queue), AgentRequest(task=task), None)
        await eventually(client, handle, Stall.AWAITING_HUMAN)
        code, data = await inspect.status(handle, client)
        assert code == EXIT_HUMAN and data["stall"]["stall"] == "awaiting_human"
        assert "waiting for a human: an approval" in "\n".join(inspect.render_status(data))
        await handle.terminate("test over")
