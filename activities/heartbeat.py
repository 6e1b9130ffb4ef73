"""Heartbeats while an activity waits on something slow (a model, a long tool).

A dead worker's activity is noticed by the server only when a heartbeat is missed: with a
start-to-close timeout alone, a model call killed mid-flight waits out the whole timeout (minutes)
before it is retried elsewhere. The beat runs on the event loop, beside the awaited call, so a slow
but live call (the local model on 2 cores, over a minute per turn) keeps beating.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from temporalio import activity

T = TypeVar("T")

# Well under every heartbeat timeout we schedule with (the SDK also throttles what it sends).
BEAT_EVERY = timedelta(seconds=2)


async def heartbeating(awaitable: Awaitable[T], every: timedelta | None = None) -> T:
    """Await `awaitable`, heartbeating every `every` (BEAT_EVERY) while it runs; outside an activity,
    just await it."""
    if not activity.in_activity():
        return await awaitable
    interval = (every or BEAT_EVERY).total_seconds()
    task = asyncio.ensure_future(awaitable)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=interval)
            if done:
                return task.result()
            activity.heartbeat()
    finally:
        if not task.done():
            task.cancel()
