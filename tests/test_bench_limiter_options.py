"""The limiter-options bench: its sharding simulation never lets the fleet past the budget, its call
answers 429 with a Retry-After Temporal honours, and one short run measures all three options."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from bench.fake_limits import WindowLimits
from bench.limiter_calls import CallInput, ModelCall, Tally
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


async def test_a_call_past_the_quota_is_a_429_that_temporal_retries_after_its_retry_after() -> None:
    tally = Tally(WindowLimits(rpm=1))
    call = ModelCall(tally, latency_s=0.0)
    env = ActivityEnvironment()
    await env.run(call.call, CallInput(holder="run-1:c0", tokens=10))
    with pytest.raises(ApplicationError) as refused:
        await env.run(call.call, CallInput(holder="run-1:c1", tokens=10))
    assert refused.value.type == "RateLimitedError" and not refused.value.non_retryable
    assert refused.value.next_retry_delay == timedelta(seconds=60)
    assert len(tally.admitted) == 1 and tally.refused == [60.0] and len(tally.waits) == 1
