"""The retry benchmark: its fault plan, its calculator, its options, and one tiny run on a dev server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.bench_tools import CORPUS, evaluate, search_corpus, summarise_text
from bench.faults import FaultPlan, FaultyModel, ToolFaultRates, task_id_of
from bench.tasks import BenchPolicy, default_plan, make_tasks
from core.errors import DependencyDownError, InvalidInputError, RateLimitedError, TransientError

ROOT = Path(__file__).resolve().parent.parent
TEMPORAL = Path(sys.executable).parent / "temporal"


def bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.retries", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ── fault plan ──────────────────────────────────────────────────────────────


def test_fault_plan_is_deterministic_and_seeded() -> None:
    plan = default_plan(42, 0.28)
    again = default_plan(42, 0.28)
    other = default_plan(7, 0.28)
    calls = [(task, tool, f"t{turn}-1") for task in range(50) for tool in plan.tools for turn in (1, 2)]
    assert [plan.tool_fault(*c) for c in calls] == [again.tool_fault(*c) for c in calls]
    assert [plan.tool_fault(*c) for c in calls] != [other.tool_fault(*c) for c in calls]
    assert plan.roll("x", 1) == again.roll("x", 1)


def test_fault_rates_are_honoured_roughly() -> None:
    plan = FaultPlan(seed=1, tools={"t": ToolFaultRates(transient=0.2, rate_limited=0.1, down=0.1)})
    faults = [plan.tool_fault(task, "t", "t1-1") for task in range(4000)]
    kinds = [f.kind for f in faults if f is not None]
    assert 0.17 < kinds.count("transient") / 4000 < 0.23
    assert 0.07 < kinds.count("rate_limited") / 4000 < 0.13
    assert 0.07 < kinds.count("down") / 4000 < 0.13


def test_tool_faults_fail_then_succeed_with_the_right_class() -> None:
    plan = FaultPlan(seed=3, tools={"t": ToolFaultRates(transient=0.4, rate_limited=0.3, down=0.3)})
    expected = {"transient": TransientError, "rate_limited": RateLimitedError, "down": DependencyDownError}
    for task in range(30):
        fault = plan.tool_fault(task, "t", "t1-1")
        assert fault is not None
        for attempt in range(1, fault.failures + 1):
            assert isinstance(plan.error_for(fault, "t", attempt), expected[fault.kind])
        assert plan.error_for(fault, "t", fault.failures + 1) is None
    limited = RateLimitedError("x", retry_after=None)
    assert limited.next_retry_delay() is None


def test_rates_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError):
        FaultPlan(hallucination_rate=1.5)
    with pytest.raises(ValueError):
        ToolFaultRates(transient=0.7, down=0.7)


def test_task_id_from_workflow_id() -> None:
    assert task_id_of("bench-h28-abc123-17") == 17
    assert task_id_of("naive-5") == 5
    assert task_id_of("something") == 0


def test_faulty_model_hallucinates_then_corrects_itself() -> None:
    plan = FaultPlan(seed=42, hallucination_rate=1.0)
    model = FaultyModel(BenchPolicy(), plan)
    task = make_tasks(1, 42)[0]
    messages = [{"role": "user", "content": task.prompt}]
    first = model.reply(messages, set())
    assert first.tool_calls and first.tool_calls[0].name not in {"web_search", "calculate", "summarise"}
    honest = FaultyModel(BenchPolicy(), FaultPlan(seed=42, hallucination_rate=0.0))
    assert honest.reply(messages, set()).tool_calls[0].name in {"web_search", "calculate", "summarise"}


def test_tasks_are_deterministic_and_solvable() -> None:
    tasks = make_tasks(30, 42)
    assert tasks == make_tasks(30, 42)
    assert {t.kind for t in tasks} == {"search", "calculate", "summarise"}
    for doc_id, title, _ in CORPUS:
        assert search_corpus(title.lower())[0].id == doc_id


# ── the safe calculator ─────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("expression", "value"),
    [("(12 + 7) * 3", 57), ("2 ** 10", 1024), ("7 / 2", 3.5), ("-3 + +4", 1), ("2 ** -1", 0.5)],
)
def test_calculator_evaluates_arithmetic(expression: str, value: float) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os')",
        "2**10000000",
        "9**9**9",
        "1/0",
        "x + 1",
        "(1).__class__",
        "[1, 2]",
        "True + 1",
        "'a' * 3",
        "1 if 1 else 2",
        "1" * 300,
        "2 +",
    ],
)
def test_calculator_refuses_everything_else(expression: str) -> None:
    with pytest.raises(InvalidInputError):
        evaluate(expression)


def test_summarise_is_bounded() -> None:
    assert summarise_text("a b c d e", 3).summary == "a b c…"
    assert summarise_text("a b", 3).words == 2


# ── the CLI ─────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tasks", "0"], "must be > 0"),
        (["--tasks", "-3"], "must be > 0"),
        (["--hallucination", "1.5"], "outside [0, 1]"),
        (["--sweep", "0.05,-0.1"], "outside [0, 1]"),
        (["--concurrency", "0"], "must be > 0"),
        (["--hallucination", "lots"], "not a number"),
    ],
)
def test_bad_options_exit_2_with_a_message(args: list[str], message: str) -> None:
    done = bench(*args, timeout=30)
    assert done.returncode == 2
    assert message in done.stderr


def test_unreachable_server_exits_non_zero() -> None:
    done = bench("--tiny", "--address", "127.0.0.1:1", timeout=60)
    assert done.returncode == 1
    assert "cannot reach Temporal at 127.0.0.1:1" in done.stderr


@pytest.mark.skipif(not TEMPORAL.exists(), reason="needs the temporal CLI from the venv")
def test_tiny_bench_on_a_dev_server(tmp_path: Path) -> None:
    out = tmp_path / "retries.json"
    done = bench("--tiny", "--tasks", "6", "--hallucination", "0.6", "--out", str(out), timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "naive ReAct" in done.stdout and "Sensitivity sweep" in done.stdout
    document = json.loads(out.read_text())
    (summary,) = document["summary"]
    assert summary["ours"]["wasted_retries"] == 0
    assert summary["ours"]["retries_on_non_retryable"] == 0
    assert summary["naive"]["wasted_retries"] > 0
    assert summary["ours"]["success"] == summary["ours"]["tasks"] == 6
    assert summary["plan"]["wasted_retries"] == summary["plan"]["retries_on_non_retryable"] == 0
    assert len(document["results"]) == 18  # three arms
