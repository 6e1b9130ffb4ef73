"""Slow-call kills: SIGKILL the worker that holds a slow `llm.complete`, and time how soon the call is back.

The fake provider lists the calls it is answering; one with seconds left is matched to its run by
the task, the run's pending `llm.complete` names the worker that started it, and exactly that worker
is killed and restarted at once. Recovery is read from the run's history afterwards: from the kill
to the ActivityTaskCompleted of that very activity, i.e. the interrupted call completed on a live
worker. That is what the crash cost the call (detection, retry backoff, the call again) and nothing
else: the run's later turns and the harness's approval polling do not blur it. When the workflow
acted on that answer (its next completed workflow task) is shown beside it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client

from bench.chaos_cluster import Provider, WorkerPool
from bench.chaos_store import Case
from bench.slow_calls import CallEnd, HeldCall, call_end, held_call

# Kill only a call with this long still to wait: the kill must land while the model is answering.
MIN_LEFT_S = 2.0


@dataclass
class SlowKill:
    call: HeldCall
    killed_at: float  # Unix seconds
    left_s: float  # the model's remaining seconds on that call when it was killed
    end: CallEnd | None = None

    @property
    def recovery_s(self) -> float | None:
        return None if self.end is None else self.end.completed_at - self.killed_at

    @property
    def resumed_s(self) -> float | None:
        return (
            None if self.end is None or self.end.resumed_at is None else self.end.resumed_at - self.killed_at
        )


class SlowKiller:
    """Kills during slow calls at seeded intervals; pauses while the server is down (`paused`)."""

    def __init__(self, pool: WorkerPool, provider: Provider, cases: list[Case], seed: int) -> None:
        self.pool, self.provider = pool, provider
        self.by_task = {case.task: case for case in cases}
        self.rng = random.Random(seed * 1009 + 13)
        self.kills: list[SlowKill] = []
        self.paused = False

    def pause_s(self) -> float:
        return self.rng.uniform(1.0, 3.0)

    async def try_kill(self, client: Client) -> SlowKill | None:
        """One attempt: kill the holder of a slow call in flight, if there is one to find."""
        if self.paused:
            return None
        try:
            inflight = (await self.provider.state())["inflight"]
        except Exception:
            return None  # the provider is busy or restarting: try again at the next interval
        candidates = [c for c in inflight if c["latency_s"] - c["age_s"] >= MIN_LEFT_S]
        self.rng.shuffle(candidates)
        for candidate in candidates:
            case = self._case_of(candidate["task"])
            kill = None if case is None else await self._kill_holder(client, case, candidate)
            if kill is not None:
                self.kills.append(kill)
                return kill
        return None

    def _case_of(self, user_text: str) -> Case | None:
        """The run whose task the prompt's first user message carries (inside the agent's template)."""
        return next((case for task, case in self.by_task.items() if task in user_text), None)

    async def _kill_holder(self, client: Client, case: Case, candidate: dict[str, Any]) -> SlowKill | None:
        handle = client.get_workflow_handle(case.workflow_id)
        try:
            call = await held_call(handle)
        except Exception:
            return None
        # No live holder: the attempt's worker is already dead (another fault), so it is not this one.
        slot = None if call is None or self.paused else self.pool.slot_of(call.identity)
        if call is None or slot is None:
            return None
        left = candidate["latency_s"] - candidate["age_s"]
        self.pool.kill(slot)
        killed_at = time.time()
        self.pool.revive()
        return SlowKill(call, killed_at, left)


async def measure(client: Client, kills: list[SlowKill]) -> None:
    for kill in kills:
        try:
            kill.end = await call_end(client, kill.call)
        except Exception:
            kill.end = None


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def rows(kills: list[SlowKill]) -> list[tuple[str, str]]:
    recovered = [k.recovery_s for k in kills if k.recovery_s is not None]
    resumed = [k.resumed_s for k in kills if k.resumed_s is not None]
    moved = sum(
        1 for k in kills if k.end and k.end.attempt > k.call.attempt and k.end.identity != k.call.identity
    )
    left = statistics.median(k.left_s for k in kills) if kills else 0.0
    return [
        ("slow-call kills (during llm.complete)", f"{len(kills)} (median {left:.1f} s of the call left)"),
        ("  interrupted call completed elsewhere", f"{moved}/{len(kills)} (a later attempt, another worker)"),
        ("  recovery: kill -> that call completed", _figures(recovered)),
        ("  kill -> the run acted on the answer", _figures(resumed)),
    ]


def failures(args: argparse.Namespace, kills: list[SlowKill]) -> list[str]:
    found = [
        f"{k.call.workflow_id}: the call killed at {k.killed_at:.0f} never completed"
        for k in kills
        if k.end is None
    ]
    if len(kills) < args.slow_kills:
        found.append(f"only {len(kills)} of {args.slow_kills} slow-call kills happened before the runs ended")
    recovered = [k.recovery_s for k in kills if k.recovery_s is not None]
    if recovered and p95(recovered) > args.slow_target_s:
        found.append(f"slow-call recovery p95 {p95(recovered):.1f} s > {args.slow_target_s:g} s")
    return found


def _figures(values: list[float]) -> str:
    if not values:
        return "-"
    p50 = statistics.median(values)
    return f"n={len(values)}, p50 {p50:.1f} s, p95 {p95(values):.1f} s, max {max(values):.1f} s"
