"""The crash benches (issues 7 and 13): their verdicts, their options, and one tiny run of each.

The tiny runs kill real worker processes while a slow model call is in flight and assert that the
call came back on another worker and the run completed; they assert no times beyond the acceptance.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.chaos_cluster import WorkerPool
from bench.chaos_slow import SlowKill, failures, p95, rows
from bench.slow_calls import CallEnd, HeldCall

ROOT = Path(__file__).resolve().parent.parent
TEMPORAL = Path(sys.executable).parent / "temporal"
needs_server = pytest.mark.skipif(not TEMPORAL.exists(), reason="needs the temporal CLI from the venv")


def bench(name: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def kill(recovery: float | None, attempt: int = 2) -> SlowKill:
    call = HeldCall("chaos-0001", "run", "3", attempt=1, identity="11@vm")
    end = None if recovery is None else CallEnd(100.0 + recovery, attempt, "12@vm", 110.0, 100.5 + recovery)
    return SlowKill(call, killed_at=100.0, left_s=4.0, end=end)


def test_slow_kill_verdict() -> None:
    args = argparse.Namespace(slow_kills=3, slow_target_s=40.0)
    assert failures(args, [kill(12.0), kill(15.0), kill(20.0)]) == []
    assert any("only 2 of 3" in f for f in failures(args, [kill(12.0), kill(15.0)]))
    assert any("p95 41.0 s > 40 s" in f for f in failures(args, [kill(12.0), kill(15.0), kill(41.0)]))
    assert any("never completed" in f for f in failures(args, [kill(12.0), kill(15.0), kill(None)]))
    table = dict(rows([kill(12.0), kill(15.0), kill(None, attempt=1)]))
    assert table["  interrupted call completed elsewhere"].startswith("2/3")
    assert table["  recovery: kill -> that call completed"].startswith("n=2, p50 13.5 s, p95 15.0 s")


def test_p95_is_an_observed_value() -> None:
    assert p95([float(v) for v in range(1, 21)]) == 20.0
    assert p95([3.0]) == 3.0


def test_a_worker_identity_maps_to_its_live_slot(tmp_path: Path) -> None:
    pool = WorkerPool(tmp_path, 1, {})
    pool.procs[0] = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert pool.slot_of(f"{pool.procs[0].pid}@vm") == 0
        assert pool.slot_of("1@vm") is None
        pool.kill(0)
        assert pool.slot_of(f"{pool.procs[0].pid}@vm") is None  # a dead holder is no target
    finally:
        pool.procs[0].kill()


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("chaos", ["--slow-share", "1.5"], "--slow-share must be in [0, 1]"),
        ("chaos", ["--slow-s", "1-2"], "--slow-s must be at least 3 s"),
        ("chaos", ["--slow-kills", "-1"], "--slow-kills must be 0..1000"),
        ("chaos", ["--slow-share", "0"], "--slow-kills need --slow-share > 0"),
        ("slow_kill", ["--kill-turn", "3"], "--kill-turn must be 1 or 2"),
        ("slow_kill", ["--latency-s", "5", "--kill-after-s", "4.5"], "--kill-after-s must be in"),
        ("slow_kill", ["--latency-s", "0"], "--latency-s must be > 0"),
    ],
)
def test_bad_options_exit_2(name: str, args: list[str], message: str) -> None:
    done = bench(name, *args, timeout=30)
    assert done.returncode == 2 and message in done.stderr


@needs_server
def test_tiny_chaos_kills_a_worker_during_a_slow_model_call() -> None:
    done = bench("chaos", "--tiny", timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"slow-call kills \(during llm.complete\)\s+1 ", done.stdout)
    assert re.search(r"interrupted call completed elsewhere\s+1/1", done.stdout)
    assert re.search(r"runs completed\s+12/12", done.stdout) and "PASS" in done.stdout


@needs_server
def test_one_run_recovers_from_a_kill_during_its_model_call() -> None:
    done = bench("slow_kill", "--latency-s", "5", "--kill-after-s", "2", "--target-s", "40", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SIGKILLed worker pid" in done.stdout
    killed = re.search(r"SIGKILLed worker pid (\d+)", done.stdout)
    completed = re.search(r"interrupted call completed .* \(attempt (\d+), worker (\d+)@", done.stdout)
    assert killed and completed, done.stdout
    assert int(completed.group(1)) >= 2 and completed.group(2) != killed.group(1)
    assert re.search(r"run completed\s+[\d.]+ s after the restart", done.stdout) and "PASS" in done.stdout


def test_a_protected_worker_does_not_kill_itself_after_a_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench import chaos_worker

    listed = tmp_path / "protected.pids"
    monkeypatch.setenv("CHAOS_PROTECTED", str(listed))
    assert not chaos_worker._protected()  # no file yet
    listed.write_text(f"1 {os.getpid()}")
    assert chaos_worker._protected()
    listed.write_text("1 2")
    assert not chaos_worker._protected()
