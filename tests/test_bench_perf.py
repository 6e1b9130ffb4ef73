"""The performance benches (issue 8): the perf agent, their helpers, their options, one tiny run each.

Benchmarks, not timed tests: the tiny runs prove each bench works end to end and assert no times.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from bench import perf_common as pc
from bench.agents import PERF
from bench.noop_tools import NOOP_TOOLS, REGISTRY, SLEEP_TOOLS, StepArgs, noop
from bench.throughput_batch import Batch
from cli.devserver import DYNAMIC_CONFIG
from core.toolspec import ToolContext

ROOT = Path(__file__).resolve().parent.parent
TEMPORAL = Path(sys.executable).parent / "temporal"
needs_server = pytest.mark.skipif(not TEMPORAL.exists(), reason="needs the temporal CLI from the venv")


def bench(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ── the perf toolset and the helpers ────────────────────────────────────────


def test_the_perf_agent_has_the_alternating_tools_and_no_production_worker_serves_it() -> None:
    assert PERF.registry.names() == REGISTRY.names() == [*NOOP_TOOLS, *SLEEP_TOOLS]
    from worker import DEFAULT_APPS

    assert "bench" not in DEFAULT_APPS


async def test_noop_tool_returns_its_argument() -> None:
    ctx: ToolContext[None] = ToolContext(workflow_id="w", call_id="c", idempotency_key="w:c", deps=None)
    assert (await noop(ctx, StepArgs(i=7))).i == 7


def test_script_makes_k_alternating_calls_then_answers() -> None:
    book = pc.perf_book([3], 0.3, NOOP_TOOLS)
    request = pc.perf_request(3)
    key = book.match(request.task)
    assert key is not None
    script = book.scripts[key]
    assert [r.tool_calls[0].name for r in script[:3]] == ["noop_a", "noop_b", "noop_a"]
    assert script[3].content == "done" and not script[3].tool_calls
    assert all(r.delay_s == 0.3 for r in script)
    assert (
        request.limits is not None
        and request.limits.max_turns == 4
        and request.agent == "perf"
        and request.user_budget is None
    )


def test_scripts_of_different_lengths_do_not_collide() -> None:
    book = pc.perf_book([2, 20], 0.0, NOOP_TOOLS)
    assert book.match(pc.perf_request(2).task) == pc.perf_key(2)
    assert book.match(pc.perf_request(20).task) == pc.perf_key(20)


def test_stats_helpers() -> None:
    assert pc.percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert pc.percentile([], 0.95) == 0.0
    assert pc.median_spread([1.0, 2.0, 9.0]).split() == ["2.00", "(1.00–9.00)"]
    assert pc.table(["a", "bb"], [[1, 2]]) == ["a  bb", "-  --", "1  2"]


def test_dev_server_command_carries_the_tuned_values() -> None:
    cmd = pc.server_command(7999, pc.TUNED, Path("/tmp/x.db"))
    assert pc.TUNED is DYNAMIC_CONFIG
    for key, value in DYNAMIC_CONFIG.items():
        assert f"{key}={value}" in cmd
    assert cmd[-2:] == ["--db-filename", "/tmp/x.db"]


@pytest.mark.parametrize("text", ["0", "-3", "abc", "", "5,0"])
def test_positive_options_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        pc.positive_list(text)


def batch_of(rate: float, failures: list[str]) -> Batch:
    return Batch(
        "ours",
        10,
        steps=round(rate * 10),
        wall_s=10.0,
        latencies=[1.0],
        failures=failures,
        worker_cpu_s=1.0,
        server_cpu_s=None,
    )


def test_repeated_batches_show_the_median_with_every_failure_and_the_spread() -> None:
    parts = [batch_of(180, []), batch_of(120, ["x: one"]), batch_of(200, []), batch_of(150, ["y: two"])]
    median = Batch.median(parts)
    assert median.rate == 150  # the lower middle of 120, 150, 180, 200: no luck from the fastest
    assert median.failures == ["x: one", "y: two"]  # a failure in any batch is reported
    assert median.rates == (120, 150, 180, 200) and median.row(None)[-1] == "120–200 (4)"


# ── the command lines ───────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("overhead", ["--turns", "0"]),
        ("overhead", ["--reps", "-1"]),
        ("overhead", ["--replay-turns", "x"]),
        ("throughput", ["--runs", "0"]),
        ("throughput", ["--runs", "50,-1"]),
        ("throughput", ["--turns", "0"]),
        ("throughput", ["--sqlite-runs", "0"]),
        ("throughput", ["--repeats", "0"]),
        ("throughput", ["--sqlite-repeats", "-2"]),
    ],
)
def test_bad_options_exit_2_with_a_message(name: str, args: list[str]) -> None:
    done = bench(name, *args, timeout=30)
    assert done.returncode == 2
    assert "must be > 0" in done.stderr or "is not an integer" in done.stderr


@pytest.mark.parametrize("name", ["overhead", "throughput"])
def test_unreachable_server_exits_1(name: str) -> None:
    done = bench(name, "--tiny", "--address", "127.0.0.1:1", timeout=60)
    assert done.returncode == 1
    assert "cannot reach Temporal at 127.0.0.1:1" in done.stderr


@needs_server
def test_tiny_overhead_bench() -> None:
    done = bench("overhead", "--tiny", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    for text in (
        "(a) bare workflow",
        "(b) bare workflow",
        "(c) AgentWorkflow",
        "(d) plain asyncio",
        "c/a = ",
    ):
        assert text in done.stdout
    assert "tuned/default" in done.stdout and "AgentWorkflow, 3 turns" in done.stdout


@needs_server
def test_tiny_throughput_bench() -> None:
    done = bench("throughput", "--tiny", timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    for text in ("tuned, in-memory", "tuned, SQLite file", "default settings", "tuning check", "p95 s"):
        assert text in done.stdout
