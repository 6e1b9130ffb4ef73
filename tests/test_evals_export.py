"""From production to tests: a finished run exported as an eval case passes on the model that produced
it; its history exported under a histories directory replays; a run not yet finished is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cli import export, trace
from cli.errors import CliError
from core.agent import Agent
from evals.cases import load_dir, load_file
from evals.runner import Runner, Variant
from evals.variants import cases_dir, opened_model
from tests.conftest import DEMO, SHOP
from tests.test_evals_suite import client as client  # the fixture, re-exported
from worker import build_replayer


@pytest.mark.parametrize(
    ("agent", "case_id"),
    [(DEMO, "dup-original-named"), (DEMO, "goodwill-refund-denied"), (SHOP, "return-approved")],
    ids=lambda v: getattr(v, "name", v),
)
async def test_an_exported_run_passes_as_a_case(
    client: Client, env: WorkflowEnvironment, tmp_path: Path, agent: Agent[Any], case_id: str
) -> None:
    original = next(c for c in load_dir(cases_dir(agent.name)) if c.id == case_id)
    async with opened_model("scripted", [agent]) as models:
        runner = Runner(client, tmp_path / "runs", concurrency=1, timeout_s=120, strict=True)
        variant = Variant("scripted", agent, models)
        [first] = await runner.run(variant, [original])
        history = await client.get_workflow_handle(first.outcome.workflow_id).fetch_history()
        report = await trace.build_report(history)
        request = await export._request(history, client)
        case = export.case_of(report, request, first.outcome.rows)
        path = tmp_path / "exported.yaml"
        path.write_text(yaml.safe_dump({"category": "exported", "cases": [case]}, sort_keys=False))
        [exported] = load_file(path)
        [again] = await runner.run(variant, [exported])
    assert first.passed and again.passed, again.reasons
    assert [a.decision for a in exported.approvals] == [a.decision for a in original.approvals]
    assert exported.expect.side_effects == first.outcome.rows
    assert exported.expect.status == first.outcome.status


async def test_export_history_writes_a_history_that_replays(
    client: Client, env: WorkflowEnvironment, tmp_path: Path
) -> None:
    case = next(c for c in load_dir(cases_dir(DEMO.name)) if c.id == "status-succeeded")
    async with opened_model("scripted", [DEMO]) as models:
        runner = Runner(client, tmp_path / "runs", concurrency=1, timeout_s=120, strict=True)
        [done] = await runner.run(Variant("scripted", DEMO, models), [case])
    written = await export.export_history(client, done.outcome.workflow_id, tmp_path / "histories")
    path = Path(written["written"])
    assert path.parent == tmp_path / "histories" and path.name.startswith("merchant_support.")
    from temporalio.client import WorkflowHistory

    replayer = build_replayer([DEMO, SHOP], client.data_converter)
    text = await asyncio.to_thread(path.read_text)
    result = await replayer.replay_workflow(WorkflowHistory.from_json(path.stem, text))
    assert result.replay_failure is None
    with pytest.raises(CliError, match="never overwritten"):
        await export.export_history(client, done.outcome.workflow_id, tmp_path / "histories")


def test_a_run_that_has_not_finished_is_not_exported() -> None:
    report = trace.TraceReport(
        workflow_id="wf", execution="running", status=None, task="t", answer=None, stop_reason=None,
        turns=[], signals=[], totals=trace.Totals(), failure=None,
    )  # fmt: skip
    with pytest.raises(CliError, match="has not finished"):
        export.case_of(report, {"task": "t"}, {})
