"""`starter.py trace ID`: the report is rebuilt from history alone and agrees with the run's AgentResult."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.llm.openai_provider import OpenAIProvider
from cli.main import main
from cli.trace import build_report, render
from core.models import AgentRequest, AgentResult, ApproveSignal, RunState
from tests.conftest import Harness
from tests.test_agent_workflow import REFUND, answer, call, calls, wait_for_pending
from workflows.agent import AgentWorkflow

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def _single_run_from_turn_one(path: Path) -> bool:
    """A ReAct AgentWorkflow history that holds its run from turn 1 (a conversation has its own view, a
    fork's history starts after its fork point, so its turns are fewer than its result's, and a plan
    run's steps are its planner's rounds, not one per model reply)."""
    first = json.loads(path.read_text())["events"][0]["workflowExecutionStartedEventAttributes"]
    if first["workflowType"]["name"] != "AgentWorkflow":
        return False
    payload = json.loads(base64.b64decode(first["input"]["payloads"][0]["data"]))
    # A run that continued from another (`carry`) or continued as new holds only part of the result.
    ended = json.loads(path.read_text())["events"][-1]["eventType"]
    return payload.get("fork") is None and payload.get("carry") is None and "CONTINUED_AS_NEW" not in ended


SINGLE_RUNS = [p for p in HISTORIES if _single_run_from_turn_one(p) and not p.stem.startswith("planner_")]
PLAN_RUNS = [p for p in HISTORIES if p.stem.startswith("planner_")]


@pytest.fixture
def cli(env: WorkflowEnvironment, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Runs `starter.py ARGV` in-process against the session's server, with no worker running."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", env.client.service_client.config.target_host)
    monkeypatch.delenv("AGENT_DEBUG", raising=False)

    async def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(argv))  # main() runs its own event loop
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_matches_result(report: dict[str, Any], result: AgentResult) -> None:
    """Totals, steps and every call agree with what the workflow itself returned."""
    totals = report["totals"]
    assert totals["turns"] == result.turns == len(report["turns"])
    assert (totals["prompt_tokens"], totals["completion_tokens"]) == (
        result.usage.prompt_tokens,
        result.usage.completion_tokens,
    )
    assert totals["cost_usd"] == result.cost_usd
    assert totals["tool_calls"] == len(result.tool_calls)
    assert [t["thought"] for t in report["turns"]] == [s.thought for s in result.steps]
    mine = [c for t in report["turns"] for c in t["calls"]]
    theirs = result.tool_calls
    assert [(c["call_id"], c["tool"], c["outcome"], c["error_type"]) for c in mine] == [
        (r.call_id, r.tool, r.outcome.value, r.error_type) for r in theirs
    ]
    assert [c["observation"] for c in mine] == [r.observation for r in theirs]
    assert [c["args"] for c in mine] == [r.args for r in theirs]


async def test_trace_of_a_completed_run_without_worker_matches_its_result(harness: Harness, cli: Any) -> None:
    async def approve(handle: Any) -> None:
        status = await wait_for_pending(handle)
        item = status.pending[0]
        await handle.signal(
            AgentWorkflow.approve,
            ApproveSignal(call_id=item.call_id, approver="alice", args_sha256=item.args_sha256),
        )

    lookups = calls(
        call("get_transaction", transaction_id="pay_ABC123"),
        call("get_transaction", transaction_id="pay_NOPE999"),
        call("get_transactoin", transaction_id="pay_ABC123"),
        content="Let me look.",
    )
    result, _ = await harness.run(
        "trace a refund", [lookups, calls(REFUND), answer("Refunded 49.99 USD.")], during=approve
    )
    assert result.status == RunState.COMPLETED
    # The harness's worker has stopped: only the server answers now.
    code, out, err = await cli("--json", "trace", result.workflow_id)
    assert code == 0, err
    report = json.loads(out)
    assert_matches_result(report, result)
    outcomes = [c["outcome"] for t in report["turns"] for c in t["calls"]]
    assert outcomes == ["ok", "error", "rejected", "ok"]
    refund = report["turns"][1]["calls"][0]
    assert refund["attempts"] == 2  # its precheck and the refund itself ran as activities
    assert [s["name"] for s in report["signals"]] == ["approve"]
    assert report["signals"][0]["payload"]["approver"] == "alice"
    assert report["failure"] is None and report["answer"] == result.answer

    code, out, _ = await cli("trace", result.workflow_id)
    assert code == 0
    assert f"run {result.workflow_id}: completed" in out
    assert "action t1-2 get_transaction" in out and "error NotFoundError" in out
    assert "rejected ToolNotFoundError" in out and "no activity" in out
    assert (
        f"totals: {result.turns} turns, {result.usage.prompt_tokens}+{result.usage.completion_tokens} tokens"
        in out
    )
    assert "FAILED" not in out


async def test_trace_of_a_failed_run_names_the_step_class_attempts_and_prompt(
    harness: Harness, cli: Any
) -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(401, json={"error": {"message": "bad key"}})
    )
    provider = OpenAIProvider(
        base_url="http://scripted.invalid/v1",
        api_key="k-123456",
        default_model="scripted",
        transport=transport,
    )
    result, _ = await harness.run("trace an auth failure", [], provider=provider)
    assert result.status == RunState.FAILED

    code, out, _ = await cli("--json", "trace", result.workflow_id)
    assert code == 1
    report = json.loads(out)
    assert_matches_result(report, result)
    failure = report["failure"]
    assert (failure["step"], failure["turn"], failure["error_type"], failure["attempts"]) == (
        "llm.complete",
        1,
        "AuthError",
        1,
    )
    assert "trace an auth failure" in failure["last_prompt"][-1]["content"]

    code, out, _ = await cli("trace", result.workflow_id)
    assert code == 1
    header = out.splitlines()[:3]
    assert header[0] == f"run {result.workflow_id}: failed (AuthError)"
    assert header[2].startswith("FAILED at llm.complete in turn 1: AuthError after 1 attempt(s)")
    assert "last prompt [user]:" in out and "trace an auth failure" in out


async def test_trace_of_an_unknown_id_is_not_found(cli: Any) -> None:
    code, out, err = await cli("trace", "no-such-run-for-trace")
    assert code == 2 and out == ""
    assert err.startswith("error (NotFoundError):") and "no-such-run-for-trace" in err


async def test_trace_of_a_terminated_run_says_so(env: WorkflowEnvironment, cli: Any) -> None:
    # No worker polls this queue: the first model call is scheduled and never finishes.
    handle = await env.client.start_workflow(
        AgentWorkflow.run,
        AgentRequest(task="never picked up"),
        id=f"wf-{uuid.uuid4().hex[:10]}",
        task_queue=f"nobody-{uuid.uuid4().hex[:6]}",
    )
    await handle.terminate(reason="operator stopped it")
    code, out, _ = await cli("--json", "trace", handle.id)
    assert code == 1
    report = json.loads(out)
    assert report["execution"] == "terminated" and report["status"] is None
    assert report["failure"]["error_type"] == "Terminated"
    assert report["failure"]["message"] == "operator stopped it"

    code, out, _ = await cli("trace", handle.id)
    assert f"run {handle.id}: terminated — Temporal execution terminated" in out
    assert "FAILED at workflow: Terminated after 0 attempt(s): operator stopped it" in out

    code, out, err = await cli("status", handle.id)
    assert code == 1 and err == ""
    assert f"run {handle.id}: terminated" in out and "outside the agent's own outcomes" in out


def _returned(history: WorkflowHistory) -> AgentResult:
    completed = next(
        e.workflow_execution_completed_event_attributes.result
        for e in history.events
        if e.HasField("workflow_execution_completed_event_attributes")
    )
    return AgentResult.model_validate_json(completed.payloads[0].data)


@pytest.mark.parametrize("path", PLAN_RUNS, ids=[p.stem for p in PLAN_RUNS])
async def test_a_plan_runs_steps_render_as_the_calls_it_recorded(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    report = (await build_report(history)).model_dump(mode="json")
    result = _returned(history)
    mine = [c for t in report["turns"] for c in t["calls"]]
    assert report["totals"]["tool_calls"] == len(result.tool_calls) > 0
    assert [(c["call_id"], c["tool"], c["outcome"], c["args"]) for c in mine] == [
        (r.call_id, r.tool, r.outcome.value, r.args) for r in result.tool_calls
    ]


@pytest.mark.parametrize("path", SINGLE_RUNS, ids=[p.stem for p in SINGLE_RUNS])
async def test_committed_histories_from_older_code_still_render(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    report = (await build_report(history)).model_dump(mode="json")
    result = _returned(history)
    assert_matches_result(report, result)
    assert render(report)[-1].startswith(f"totals: {result.turns} turns")
