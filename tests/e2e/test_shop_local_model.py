"""The shop agent end to end on the real embedded model: no return without a human's approval, and an
approved return processed exactly once (asserts structure and the store, not wording)."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from activities.llm.factory import open_provider
from client import AgentClient
from core.agent import AgentEnv
from core.apps import opened_deps
from core.config import Settings
from core.models import FINAL_STATES, AgentRequest, ApproveSignal, RunState, ToolOutcome
from core.worker_options import worker_options
from tests.conftest import SHOP, result_or_task_failure
from worker import build_worker

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(os.environ.get("AGENT_SKIP_LOCAL_MODEL") == "1", reason="AGENT_SKIP_LOCAL_MODEL=1"),
]
MODEL_DIR = Path(os.environ.get("AGENT_DATA_DIR", ".data"))
TASK = "Hello, my order ORD-1001 arrived but I no longer want it. Please start a return for it."
RUN_DEADLINE_S = 600


async def operate(runs: AgentClient, handle: Any, store: Any, approvals: list[str]) -> None:
    """Approve what the model asks, as an operator would; check nothing is returned before that."""
    before = await store.count("returns")
    deadline = asyncio.get_running_loop().time() + RUN_DEADLINE_S
    while asyncio.get_running_loop().time() < deadline:
        status = await runs.status(handle)
        if status.state in FINAL_STATES or status.state == RunState.ESCALATED:
            return
        for item in status.pending:
            if item.call_id not in approvals:
                assert await store.count("returns") == before + len(approvals)  # none before approval
                approvals.append(item.call_id)
                sha = item.args_sha256
                await runs.approve(
                    handle, ApproveSignal(call_id=item.call_id, approver="ops", args_sha256=sha)
                )
        await asyncio.sleep(0.5)
    raise AssertionError(f"the run did not finish within {RUN_DEADLINE_S} s")


ATTEMPTS = 2  # a 1.5B model sometimes escalates instead; the safety checks hold every time


async def one_attempt(runs: AgentClient, store: Any) -> int:
    """One run; the returns it processed (0 when the model escalated before any)."""
    before = await store.count("returns")
    approvals: list[str] = []
    handle = await runs.start(AgentRequest(task=TASK, agent=SHOP.name, user_id="shopper"))
    await operate(runs, handle, store, approvals)
    if (await runs.status(handle)).state == RunState.ESCALATED:
        # The model may escalate after an approved return went through: that return still counts.
        await handle.terminate("the model escalated; the checks of this attempt held")
        processed = await store.count("returns") - before
        assert processed <= len(approvals) and processed <= 1  # never without approval, never twice
        return processed
    result = await result_or_task_failure(handle)
    for step in result.steps:
        print(f"turn {step.turn}: {step.actions} {step.thought[:200]!r}")
    done = [c for c in result.tool_calls if c.tool == "process_return" and c.outcome == ToolOutcome.OK]
    assert len(done) <= len(approvals) and all(c.approved_by == "ops" for c in done)
    assert await store.count("returns") == before + len(done)  # each approved return exactly once
    return len(done)


async def test_a_return_on_the_local_model_waits_for_approval_and_happens_once(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with (
        open_provider(Settings(llm_provider="local", data_dir=MODEL_DIR)) as provider,
        opened_deps([SHOP], AgentEnv(tmp_path)) as deps,
        build_worker(env.client, queue, [SHOP], provider, deps, **worker_options({}, strict=True)),
    ):
        runs, store = AgentClient(env.client, queue), deps[SHOP.name].store
        processed: list[int] = []
        while len(processed) < ATTEMPTS and 1 not in processed:
            processed.append(await one_attempt(runs, store))
    assert processed[-1] == 1, f"no attempt processed the return: {processed}"
