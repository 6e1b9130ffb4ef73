"""The whole eval suite as real runs on the scripted model (the production worker, every task replayed):
100 % for both demo agents; a broken case fails with its reason; --compare catches the regressed prompt."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.llm.registry import ModelRegistry
from core.agent import Agent
from evals.cases import EvalCase, load_dir
from evals.report import compare, render, render_compare, summary
from evals.runner import CaseResult, Runner, Variant
from evals.variants import cases_dir, opened_model, with_version
from tests.conftest import DEMO, SHOP

REGRESSED = "support-v2-no-dup-check"


@pytest.fixture
def client(env: WorkflowEnvironment) -> Client:
    """The test server's client without its time-skipping interceptor: an approval waits for the
    runner's decision instead of its deadline being skipped to while another run's result is read."""
    config = env.client.config()
    config["interceptors"] = []
    return Client(**config)


@pytest.fixture
async def scripted() -> AsyncIterator[ModelRegistry]:
    async with opened_model("scripted", [DEMO, SHOP]) as registry:
        yield registry


async def run(client: Client, tmp_path: Path, variant: Variant, cases: list[EvalCase]) -> list[CaseResult]:
    runner = Runner(client, tmp_path, concurrency=4, timeout_s=120, strict=True)
    return await runner.run(variant, cases)


@pytest.mark.parametrize("agent", [DEMO, SHOP], ids=lambda a: a.name)
async def test_the_whole_suite_passes_on_the_scripted_model(
    client: Client, tmp_path: Path, scripted: ModelRegistry, agent: Agent[Any]
) -> None:
    cases = load_dir(cases_dir(agent.name))
    results = await run(client, tmp_path, Variant("scripted", agent, scripted), cases)
    doc = summary(agent.name, results)
    print("\n".join(render(doc)))
    assert doc["pass_rate"] == 1.0, [r["reasons"] for r in doc["results"] if not r["passed"]]
    assert doc["cases"] == len(cases) >= 30
    # Real runs: the model was called (except where the message itself called for a person: the engine
    # escalates before any model call), and the approvals were taken as written.
    thought = [r for r in results if r.outcome.prompt_tokens > 0 and r.outcome.turns >= 1]
    assert {r.case.id for r in results} - {r.case.id for r in thought} <= {
        r.case.id
        for r in results
        if not r.outcome.calls and (r.outcome.status == "escalated" or r.case.human_reply is not None)
    }
    assert len(thought) >= 30
    decided = [d for r in results for d in r.outcome.decisions]
    assert decided == [f"{a.decision} {a.tool}" for c in cases for a in c.approvals]
    assert any(r.outcome.rows for r in results) and doc["latency_s"]["p95"] > 0


async def test_a_deliberately_broken_case_fails_with_its_reasons(
    client: Client, tmp_path: Path, scripted: ModelRegistry
) -> None:
    cases = {c.id: c for c in load_dir(cases_dir(DEMO.name))}
    good = cases["dup-original-named"]
    expect = good.expect.model_copy(update={"side_effects": {}, "status": "denied"})
    wrong_expectations = good.model_copy(update={"id": "broken-expect", "expect": expect})
    no_decision = good.model_copy(update={"id": "broken-no-decision", "approvals": ()})
    variant = Variant("scripted", DEMO, scripted)
    results = await run(client, tmp_path, variant, [wrong_expectations, no_decision])
    reasons = {r.case.id: r.reasons for r in results}
    assert not any(r.passed for r in results)
    assert "status completed, expected denied" in reasons["broken-expect"]
    assert "1 refunds row(s) created, expected 0" in reasons["broken-expect"]
    assert "unexpected approval asked for initiate_refund (denied)" in reasons["broken-no-decision"]


async def test_compare_catches_the_prompt_that_drops_the_duplicate_check(
    client: Client, tmp_path: Path, scripted: ModelRegistry
) -> None:
    cases = [c for c in load_dir(cases_dir(DEMO.name)) if c.category in ("duplicates", "lookups")]
    docs = []
    for version in ("support-v2", REGRESSED):
        variant = Variant(version, with_version(DEMO, version), scripted)
        docs.append(summary(version, await run(client, tmp_path / version, variant, cases)))
    diff = compare(docs[0], docs[1])
    print("\n".join(render_compare(diff)))
    assert docs[0]["pass_rate"] == 1.0
    failing = {d["id"] for d in diff["differing"]}
    # The refunds of a named original go to the wrong charge; a payment with no duplicate is refunded.
    assert {"dup-original-named", "dup-other-card-is-not-a-duplicate", "dup-none-workshop"} <= failing
    assert diff["categories"]["duplicates"][REGRESSED] < 1.0
    assert diff["categories"]["lookups"] == {"support-v2": 1.0, REGRESSED: 1.0}
    assert all(d["support-v2"] == "pass" and d[REGRESSED].startswith("FAIL") for d in diff["differing"])


def test_an_unknown_prompt_version_is_refused_with_the_known_ones() -> None:
    from core.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as caught:
        with_version(DEMO, "support-v9")
    assert "support-v2" in caught.value.message and REGRESSED in caught.value.message
    assert dataclasses.replace(DEMO).instructions.current == "support-v3"
