"""Drift: the scheduled eval stores its results, and a drop of 10 % or more against the stored baseline
(the regressed prompt) is an incident with a ticket; the Schedule created twice stays one."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core.agent import AgentEnv
from core.apps import opened_deps
from core.search_attributes import PUBLISHED
from core.worker_options import worker_options
from evals.results import ResultStore, drifted
from evals.schedule import create_schedule
from evals.suite_models import EvalSuiteRequest, EvalSuiteResult
from evals.suite_workflow import EvalSuiteWorkflow
from evals.variants import opened_model
from tests.conftest import BIN, DEMO
from tests.test_evals_suite import REGRESSED
from tests.test_evals_suite import client as client  # the fixture, re-exported
from worker import build_worker


def test_a_drop_of_ten_percent_is_drift() -> None:
    assert drifted(1.0, 0.90) and drifted(0.5, 0.45) and drifted(1.0, 0.0)
    assert not drifted(1.0, 0.91) and not drifted(0.8, 0.8) and not drifted(0.0, 0.0)


def test_results_are_stored_and_the_first_is_the_baseline(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    day = datetime(2026, 12, 1, tzinfo=UTC)
    for n, rate in enumerate((1.0, 0.95, 0.7)):
        store.save("shop", {"label": f"v{n}", "cases": 20, "passed": int(rate * 20), "pass_rate": rate},
                   now=day + timedelta(days=n))  # fmt: skip
    assert [r["label"] for r in store.recent("shop")] == ["v2", "v1", "v0"]
    assert store.baseline("shop")["label"] == "v0"  # type: ignore[index]
    second = store.recent("shop")[1]["file"]
    (tmp_path / "shop" / "baseline.json").write_text(json.dumps({"result": second}))
    assert store.baseline("shop")["label"] == "v1"  # type: ignore[index]
    assert store.baseline("merchant_support") is None and store.recent("merchant_support") == []


@pytest.fixture
async def deps(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with opened_deps([DEMO], AgentEnv(tmp_path / "deployed")) as opened:
        yield opened


async def test_the_scheduled_eval_catches_the_regressed_prompt_as_drift(
    client: Client, env: WorkflowEnvironment, tmp_path: Path, deps: dict[str, Any]
) -> None:
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    store = deps[DEMO.name]
    tickets = await store.count("tickets")
    async with opened_model("scripted", [DEMO]) as models:
        options = worker_options({}, strict=True)
        async with build_worker(client, queue, [DEMO], models, deps, data_dir=tmp_path, **options):
            outcomes: list[EvalSuiteResult] = []
            for version in (None, REGRESSED):
                request = EvalSuiteRequest(
                    agent=DEMO.name, prompt_version=version, categories=("duplicates",)
                )
                outcomes.append(
                    await client.execute_workflow(
                        EvalSuiteWorkflow.run, request, id=f"evals-{uuid.uuid4().hex[:8]}", task_queue=queue
                    )
                )
    baseline, regressed = outcomes
    assert (baseline.pass_rate, baseline.baseline_rate, baseline.drift) == (1.0, None, False)
    assert regressed.baseline_rate == 1.0 and regressed.pass_rate <= 0.9 and regressed.drift
    assert "dup-original-named" in regressed.failing and regressed.ticket_id
    assert await store.count("tickets") == tickets + 1  # the incident's ticket, in the deployment's store
    stored = ResultStore(tmp_path / "evals").recent(DEMO.name)
    assert [r["drift"] for r in stored] == [True, False]
    assert stored[0]["label"] == f"{REGRESSED}@scripted"


async def test_a_schedule_created_twice_stays_one() -> None:
    # Schedules need a real server: the time-skipping one has none.
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        search_attributes=PUBLISHED,
        dev_server_existing_path=str(BIN / "temporal"),
        dev_server_log_level="error",
    )
    try:
        request = EvalSuiteRequest(agent="shop")
        first = await create_schedule(env.client, "agent-tasks", request)
        second = await create_schedule(env.client, "agent-tasks", request)
        listed = [s.id async for s in await env.client.list_schedules()]
        described = await env.client.get_schedule_handle("evals-shop").describe()
    finally:
        await env.shutdown()
    assert (first["created"], second["created"]) == (True, False)
    assert listed.count("evals-shop") == 1
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow) and action.workflow == "EvalSuiteWorkflow"
