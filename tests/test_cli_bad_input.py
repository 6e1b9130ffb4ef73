"""The CLI's typed errors and exit codes (docs/architecture.md), against a real dev server and worker."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cli.demo import DEMO_TASK
from cli.errors import EXIT_BY_STATE
from cli.main import main
from core.client import connect
from core.config import Settings
from core.models import AgentResult, RunState, ToolOutcome
from tests.live_stack import TEMPORAL, Stack, running_stack

Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Runs `starter.py ARGV` in-process; returns (exit code, stdout, stderr)."""
    monkeypatch.delenv("AGENT_DEBUG", raising=False)
    monkeypatch.setenv("LLM_PROVIDER", "scripted")

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


# ── no server needed ────────────────────────────────────────────────────────


def test_empty_task_is_a_usage_error(cli: Cli) -> None:
    code, out, err = cli("run", "")
    assert code == 2 and out == ""
    assert err.startswith("error (InvalidInputError):") and "task" in err


def test_blank_task_is_a_usage_error(cli: Cli) -> None:
    code, _, err = cli("run", "   \n ")
    assert code == 2 and "InvalidInputError" in err and "blank" in err


def test_oversized_task_is_a_usage_error(cli: Cli) -> None:
    code, _, err = cli("run", "x" * 20_001)
    assert code == 2 and "InvalidInputError" in err and "20000" in err


def test_unknown_subcommand_is_a_usage_error(cli: Cli) -> None:
    code, _, err = cli("frobnicate", "x")
    assert code == 2 and "UsageError" in err and "frobnicate" in err


def test_deny_without_reason_is_a_usage_error(cli: Cli) -> None:
    code, _, err = cli("deny", "some-id")
    assert code == 2 and "UsageError" in err and "--reason" in err


def test_json_error_is_one_document_on_stdout(cli: Cli) -> None:
    code, out, err = cli("--json", "run", "")
    assert code == 2 and err == ""
    doc = json.loads(out)  # the whole of stdout is one document
    assert doc["exit_code"] == 2
    assert doc["error"]["type"] == "InvalidInputError" and doc["error"]["message"]


def test_unknown_provider_names_the_setting(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "bogus")
    code, _, err = cli("status", "some-id")
    assert code == 2 and "ConfigError" in err and "LLM_PROVIDER" in err and "bogus" in err


def test_unreachable_temporal_is_exit_1_without_traceback(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    code, out, err = cli("status", "some-id")
    assert code == 1
    assert "cannot reach Temporal at 127.0.0.1:1" in err and "TemporalUnavailable" in err
    assert "Traceback" not in out + err


# ── against a dev server with a scripted worker ────────────────────────────


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("cli-stack")) as started:
        yield started


@pytest.fixture
def live(cli: Cli, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("TEMPORAL_ADDRESS", stack.address)
    monkeypatch.setenv("AGENT_TASK_QUEUE", stack.queue)
    monkeypatch.setenv("AGENT_DATA_DIR", str(stack.data_dir))
    return cli


def status_until(cli: Cli, workflow_id: str, state: str, timeout: float = 20) -> tuple[int, dict[str, Any]]:
    """Poll `--json status ID` until the run reports `state`; returns (exit code, document)."""
    deadline = time.monotonic() + timeout
    while True:
        code, out, _ = cli("--json", "status", workflow_id)
        doc = json.loads(out)
        if doc.get("state") == state:
            return code, doc
        if time.monotonic() > deadline:
            raise AssertionError(f"{workflow_id} never reached {state}: {doc}")
        time.sleep(0.2)


def start_demo_run(cli: Cli, workflow_id: str, task: str = DEMO_TASK) -> dict[str, Any]:
    """Start a refund case without waiting and return its pending approval."""
    code, out, _ = cli("--json", "run", task, "--no-wait", "--id", workflow_id)
    assert code == 0 and json.loads(out) == {"workflow_id": workflow_id, "started": True}
    code, doc = status_until(cli, workflow_id, "awaiting_approval")
    assert code == 3
    [pending] = doc["pending"]
    assert pending["tool"] == "initiate_refund"
    return dict(pending)


def test_status_of_unknown_run_is_not_found(live: Cli) -> None:
    code, _, err = live("status", "no-such-run")
    assert code == 2 and "NotFoundError" in err and "no-such-run" in err


def test_approve_of_unknown_run_is_not_found(live: Cli) -> None:
    code, _, err = live("approve", "no-such-run", "--by", "a")
    assert code == 2 and "NotFoundError" in err


def test_approve_flow_exit_codes_and_one_refund(live: Cli, stack: Stack) -> None:
    run_id = f"cli-{uuid.uuid4().hex[:8]}"
    before = stack.refunds()
    # The seed's 2 refunds, plus one per run approved earlier in this module (3 after this run alone).
    assert stack.refunds("seed:") == 2 and before == 2 + stack.refunds("cli-")
    pending = start_demo_run(live, run_id)
    assert stack.refunds() == before  # nothing is refunded before the approval

    code, _, err = live("approve", run_id, "--call", "t9-9", "--by", "a")
    assert code == 2 and "NotPendingError" in err and pending["call_id"] in err
    code, _, err = live("approve", run_id, "--by", "alice")
    assert code == 0, err

    code, doc = status_until(live, run_id, "completed")
    assert code == 0 and "Refund" in doc["answer"]
    code, out, _ = live("status", run_id)
    assert code == 0 and f"run {run_id}: completed" in out
    assert stack.refunds(f"{run_id}:") == 1 and stack.refunds() == before + 1

    # Same request id again: attaches to the finished run and reports it; no second refund.
    code, out, err = live("run", DEMO_TASK, "--id", run_id)
    assert code == 0, err
    assert "status:   completed" in out and f"workflow: {run_id}" in out
    assert stack.refunds(f"{run_id}:") == 1 and stack.refunds() == before + 1


def test_approve_through_the_temporal_cli_binary(live: Cli, stack: Stack) -> None:
    run_id = f"cli-{uuid.uuid4().hex[:8]}"
    # Its own duplicate pair (MID002), so this test does not depend on which demo runs came first.
    pending = start_demo_run(live, run_id, "Merchant MID002 says pay_DEF204 was charged twice; refund it.")
    payload = {"call_id": pending["call_id"], "approver": "cli-user", "args_sha256": pending["args_sha256"]}
    signal = [str(TEMPORAL), "workflow", "signal", "--address", stack.address, "--workflow-id", run_id]
    signal += ["--name", "approve", "--input", json.dumps(payload)]
    sent = subprocess.run(signal, capture_output=True, text=True, timeout=30, check=False)
    assert sent.returncode == 0, sent.stderr

    code, _ = status_until(live, run_id, "completed")
    assert code == 0
    refund = next(c for c in result_of(stack, run_id).tool_calls if c.tool == "initiate_refund")
    assert (refund.outcome, refund.approved_by) == (ToolOutcome.OK, "cli-user")  # the signal released it
    assert refund.args["transaction_id"] == "pay_DEF205"
    assert stack.refunds(f"{run_id}:") == 1


def result_of(stack: Stack, run_id: str) -> AgentResult:

    async def fetch() -> AgentResult:
        client = await connect(Settings(temporal_address=stack.address))
        result: AgentResult = await client.get_workflow_handle(run_id, result_type=AgentResult).result()
        return result

    return asyncio.run(fetch())


def test_every_run_state_has_an_exit_code() -> None:
    """A new state without one would end `run` in a KeyError traceback instead of an exit code."""
    assert set(EXIT_BY_STATE) == set(RunState)
