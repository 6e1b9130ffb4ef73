"""The limiter-options bench: its sharding simulation never lets the fleet past the budget, and one
short run measures all three options side by side."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from bench.limiter_shards import budget_used, simulate_shards

TEMPORAL = Path(sys.executable).parent / "temporal"


def test_shards_never_grant_more_than_the_budget_and_uneven_demand_leaves_some_idle() -> None:
    rng = random.Random(7)
    used = [budget_used(60_000, 8, demand, rng) for demand in (0.8, 1.0, 1.5, 3.0)]
    assert all(share <= 1.0 for share, _ in used)
    assert used[1][0] < 1.0 and used[1][1] > 1.0  # at 1.0× demand some shard is over its share
    assert used[3][0] == pytest.approx(1.0)  # well past the budget every shard is full
    lines = simulate_shards(ceiling=50.0, minutes=1)
    assert any("more than AGENT_RATE_LIMITS allows" in line for line in lines)  # 5,000/s at 50/s


@pytest.mark.skipif(not TEMPORAL.exists(), reason="needs the temporal CLI from the venv")
def test_one_short_run_prints_every_option(tmp_path: Path) -> None:
    out = tmp_path / "options.json"
    args = ["--seconds", "3", "--callers", "2", "--rpm", "6000", "--tpm", "10000000", "--ceiling-s", "1"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.limiter_options", *args, "--out", str(out)],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for row in ("| entity |", "| task queue+ledger |", "| task queue |", "limiter ceiling, 4 shard(s)"):
        assert row in done.stdout
    assert out.exists()
