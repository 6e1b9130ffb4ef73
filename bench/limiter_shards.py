"""Sharding a model's budget past one limiter's ceiling, by simulation (bench/limiter_options.py).

One RateLimiter grants leases one workflow task at a time, so it has a ceiling (measured by the bench
on this machine). A key with `Nshards` has N limiters, each with 1/N of the rpm and tpm, and a run
leases from the shard its workflow id hashes to (activities/ratelimit.py: shard_of). What this costs:
runs are spread evenly, their calls are not, so in a minute one shard may be short while another has
room. The simulation draws a minute of runs (seeded; calls a run: 1 to 20, mostly few), hashes them
as the limiter does, and grants each shard at most its share: the fleet never exceeds the budget, and
the share of the budget used shows the price of the split.
"""

from __future__ import annotations

import math
import random

from activities.ratelimit import shard_of
from core.ratelimit import RateLimit

SEED = 42
MAX_SHARDS = RateLimit.model_fields["shards"].metadata[1].le


def minute_of_runs(calls_wanted: int, rng: random.Random) -> list[tuple[str, int]]:
    """Runs (workflow id, calls this minute) until they want `calls_wanted` calls in all."""
    runs: list[tuple[str, int]] = []
    total = 0
    while total < calls_wanted:
        calls = min(20, max(1, int(rng.lognormvariate(1.2, 0.8))))
        runs.append((f"run-{rng.getrandbits(48):012x}", calls))
        total += calls
    return runs


def budget_used(rpm: int, shards: int, demand: float, rng: random.Random) -> tuple[float, float]:
    """For one minute with `demand`× the rpm wanted: (share of the budget used, busiest shard's demand
    over its share)."""
    runs = minute_of_runs(int(rpm * demand), rng)
    wanted = [0] * shards
    for workflow_id, calls in runs:
        wanted[shard_of(f"{workflow_id}:t1-1", shards)] += calls
    share = rpm // shards
    granted = sum(min(w, share) for w in wanted)
    return granted / rpm, max(wanted) / share


def simulate_shards(ceiling: float, minutes: int = 5) -> list[str]:
    """The printed table: for fleets of growing size, the shards needed and what the split costs."""
    lines = [
        f"Sharding past the ceiling ({ceiling:.0f} leases/s for one limiter here): a key of R rpm in N "
        f"shards, each R/N; {minutes} simulated minutes each, seeded",
        "| calls/s wanted | shards (≤ 70 % of the ceiling each) | budget used at 1.0× demand | at 1.5× "
        "| busiest shard at 1.0× | most the fleet got in a minute |",
        "|---|---|---|---|---|---|",
    ]
    for per_s in (50, 500, 2_000, 5_000):
        shards = max(1, math.ceil(per_s / (0.7 * ceiling)))
        if shards > MAX_SHARDS:
            lines.append(
                f"| {per_s:,} | {shards}: more than AGENT_RATE_LIMITS allows ({MAX_SHARDS}) | | | | |"
            )
            continue
        budget = per_s * 60
        rng = random.Random(SEED)
        even = [budget_used(budget, shards, 1.0, rng) for _ in range(minutes)]
        busy = [budget_used(budget, shards, 1.5, rng)[0] for _ in range(minutes)]
        used = sum(u for u, _ in even) / minutes
        hottest = max(h for _, h in even)
        most = max([u for u, _ in even] + busy)
        lines.append(
            f"| {per_s:,} | {shards} | {used:.1%} | {sum(busy) / minutes:.1%} | {hottest:.2f}× its share "
            f"| {most:.1%} of R |"
        )
    lines.append(
        "The shards needed assume cores for that many limiters at once (the server's and the workers'); "
        "on this 2-core machine the bench measures the 1- and 4-shard ceilings above. "
        "Each shard grants at most its share, so the fleet stays within R whatever the hashing does; "
        "the cost is budget left idle on quiet shards while busy ones wait, and it shrinks as demand "
        "exceeds the budget. A Retry-After is signalled to every shard of the key."
    )
    return lines
