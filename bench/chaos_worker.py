"""The chaos suite's worker: `worker.main()` unchanged, plus one fault no outside signal can time.

With CHAOS_DIE_AFTER_WRITE=p, a side-effecting tool's first write is committed and then, with
probability p, the process SIGKILLs itself before the activity reports: the window where a refund
exists but Temporal does not know it. The retry (on another worker) must return the recorded result.
A worker listed in CHAOS_PROTECTED (it runs the retry of a slow call the harness killed) does not.

CHAOS_NO_HEARTBEAT_TIMEOUT=1 schedules `llm.complete` without its heartbeat timeout, as before
heartbeats existed: `python -m bench.slow_kill --before` measures what a kill cost then.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import worker
from agents.merchant_support import Store
from core.config import ConfigError

_run_once = Store.run_once


async def _run_once_then_maybe_die(
    self: Store, key: str, tool: str, write: Callable[[sqlite3.Connection], dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    result, replayed = await _run_once(self, key, tool, write)
    chance = float(os.environ.get("CHAOS_DIE_AFTER_WRITE", "0"))
    if not replayed and random.random() < chance and not _protected():
        events = os.environ.get("CHAOS_EVENTS")
        if events:
            with open(events, "a") as out:  # noqa: ASYNC230 - one tiny line, then the process dies
                out.write(f"{time.time():.3f} after_write {os.getpid()} {tool} {key}\n")
        os.kill(os.getpid(), signal.SIGKILL)
    return result, replayed


def _protected() -> bool:
    """Whether this worker runs the retry of a call the harness killed (bench/chaos_slow.py)."""
    listed = os.environ.get("CHAOS_PROTECTED")
    try:
        with open(listed or "") as pids:  # a few bytes, at most once per write
            return str(os.getpid()) in pids.read().split()
    except OSError:
        return False


if __name__ == "__main__":
    Store.run_once = _run_once_then_maybe_die  # type: ignore[method-assign,assignment]
    if os.environ.get("CHAOS_NO_HEARTBEAT_TIMEOUT") == "1":
        import workflows.thinking  # read when the loop schedules llm.complete (unsandboxed runner)

        workflows.thinking.LLM_HEARTBEAT_TIMEOUT = None  # type: ignore[assignment]
    try:
        asyncio.run(worker.main())
    except ConfigError as exc:
        raise SystemExit(f"worker: {exc}") from None
