"""What the shop's tool handlers get as `ctx.deps`: the store, and the clock the return window reads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date

from agents.shop.store import ShopStore, utc_today
from core.agent import AgentEnv


@dataclass(frozen=True)
class ShopDeps:
    store: ShopStore
    # A clock, not date.today() in the handlers: tests pin the day the return window is judged on.
    today: Callable[[], date] = field(default=utc_today)


@asynccontextmanager
async def open_shop(env: AgentEnv) -> AsyncIterator[ShopDeps]:
    """Open (create and seed on first use) `shop.db` under the worker's data dir, once per worker."""
    store = await ShopStore.open_async(env.data_dir)
    try:
        yield ShopDeps(store=store)
    finally:
        # Connections are per operation, so nothing stays open; this is the moment SQLite advises
        # refreshing its planner statistics.
        await store.optimize()
