"""One limiter's ceiling: leases a second a key's RateLimiter(s) grant on this machine.

Callers lease back to back, each its own run (so spread over the shards), through three workers'
FleetLimiters (each keeps its own few leases in flight, as three workers would), with a limit too high
to make anyone wait. Used by bench/ratelimit.py and bench/limiter_options.py.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.ratelimit import FleetLimiter
from core.ratelimit import RateLimit
from workflows.rate_limiter import RateLimiterWorkflow


async def ceiling(client: Client, shards: int, seconds: float, concurrency: int = 48) -> dict[str, Any]:
    home = f"limiter-ceiling-{uuid.uuid4().hex[:6]}"
    key = f"ceiling-{uuid.uuid4().hex[:6]}"
    limits = {key: RateLimit(key=key, rpm=1_000_000, shards=shards)}
    limiters = [FleetLimiter(client, home, limits) for _ in range(3)]
    count = 0
    async with Worker(client, task_queue=home, workflows=[RateLimiterWorkflow]):
        deadline = asyncio.get_running_loop().time() + seconds

        async def caller(n: int) -> None:
            nonlocal count
            while asyncio.get_running_loop().time() < deadline:
                await limiters[n % 3].grant(key, f"caller-{n}:lease")
                count += 1

        await asyncio.gather(*(caller(n) for n in range(concurrency)))
    return {"shards": shards, "leases_per_s": count / seconds, "concurrency": concurrency, "seconds": seconds}
