"""Slow-call kills: SIGKILL the worker that holds a slow `llm.complete`, and time how soon the call is back.

The fake provider lists the calls it is answering; one with seconds left is matched to its run by
the task, the run's pending `llm.complete` names the worker that started it, and exactly that worker
is killed and restarted at once. Recovery is read from the run's history afterwards: from the kill
to the ActivityTaskCompleted of that very activity, i.e. the interrupted call completed on a live
worker. That is what the crash cost the call (detection, retry backoff, the call again) and nothing
else: the run's later turns and the harness's approval polling do not blur it. When the workflow
acted on that answer (its next completed workflow task) is shown beside it.

Each figure is the cost of one crash: until the interrupted call is done, the worker running its
retry is `protected()` from the suite's other kills (they pick another worker; that worker skips its
own kills after a write) and the server restart waits. Every harness fault still happens. A retry
killed before the watch saw where it started shows as a completing attempt beyond the next one.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

from temporalio.client import Client

from bench.chaos_cluster import Provider, WorkerPool
from bench.chaos_store import Case
from bench.slow_calls import CallEnd, HeldCall, call_end, held_call, pending

# Kill only a call with this long still to wait: the kill must land while the model is answering.
MIN_LEFT_S = 2.0
# A retry is watched (and its worker protected) at most this long.
RECOVERY_WAIT_S = 180.0
WATCH_EVERY_S = 0.3
PROTECTED_FILE = "protected.pids"


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
    def restarted_s(self) -> float | None:
        """From the kill to the start of the attempt that completed: detection, backoff, a free worker."""
        return None if self.end is None else self.end.started_at - self.killed_at

    @property
    def resumed_s(self) -> float | None:
        return (
            None if self.end is None or self.end.resumed_at is None else self.end.resumed_at - self.killed_at
        )


class SlowKiller:
    """Kills during slow calls at seeded intervals, and watches each interrupted call until it is done."""

    def __init__(self, pool: WorkerPool, provider: Provider, cases: list[Case], seed: int) -> None:
        self.pool, self.provider = pool, provider
        self.by_task = {case.task: case for case in cases}
        self.rng = random.Random(seed * 1009 + 13)
        self.kills: list[SlowKill] = []
        self.missed = 0  # kills that landed after the call had ended: not counted as slow-call kills
        self.retries: dict[int, str] = {}  # per kill being watched: the worker running its retry, if any
        self._watchers: set[asyncio.Task[None]] = set()

    def pause_s(self) -> float:
        return self.rng.uniform(1.5, 3.5)

    def counted(self) -> int:
        """Kills so far, the ones still being watched included."""
        return len(self.kills) + len(self.retries)

    def protected(self) -> set[int]:
        """Slots running an interrupted call's retry: another kill there would be a second crash."""
        slots = (self.pool.slot_of(identity) for identity in self.retries.values() if identity)
        return {slot for slot in slots if slot is not None}

    async def kill_one(self, client: Client) -> None:
        kill = await self.try_kill(client)
        if kill is not None:
            self.retries[id(kill)] = ""
            watcher = asyncio.create_task(self._watch(client, kill))
            self._watchers.add(watcher)
            watcher.add_done_callback(self._watchers.discard)

    async def drain(self) -> None:
        await asyncio.gather(*self._watchers)

    async def settled(self) -> None:
        """Until no interrupted call is being watched (each watch ends within RECOVERY_WAIT_S)."""
        if self._watchers:
            await asyncio.wait(set(self._watchers))

    async def _watch(self, client: Client, kill: SlowKill) -> None:
        """Note which worker runs the retry until the call is done, then keep or discard the kill."""
        handle = client.get_workflow_handle(kill.call.workflow_id, run_id=kill.call.run_id)
        deadline = time.monotonic() + RECOVERY_WAIT_S
        try:
            while time.monotonic() < deadline:
                try:
                    info = await pending(handle, kill.call.activity_id)
                except Exception:
                    await asyncio.sleep(WATCH_EVERY_S)  # a slow answer from the server: ask again
                    continue
                if info is None:
                    break
                if info.attempt > kill.call.attempt and info.last_worker_identity != self.retries[id(kill)]:
                    self.retries[id(kill)] = info.last_worker_identity
                    self._publish()
                await asyncio.sleep(WATCH_EVERY_S)
        finally:
            del self.retries[id(kill)]
            self._publish()
        await self._keep(client, kill)

    def _publish(self) -> None:
        """Tell the workers which of them must not kill themselves after a write (bench/chaos_worker.py)."""
        pids = " ".join(str(self.pool.procs[slot].pid) for slot in self.protected())
        (self.pool.root / PROTECTED_FILE).write_text(pids)

    async def _keep(self, client: Client, kill: SlowKill) -> None:
        try:
            kill.end = await call_end(client, kill.call)
        except Exception:
            kill.end = None
        if kill.end is not None and kill.end.attempt <= kill.call.attempt:
            self.missed += 1  # the attempt we killed had completed it: the kill came too late
        else:
            self.kills.append(kill)

    async def try_kill(self, client: Client) -> SlowKill | None:
        """Kill the holder of a slow call in flight, if there is one to find."""
        candidates = [c for c in await self._inflight() if c["latency_s"] - c["age_s"] >= MIN_LEFT_S]
        self.rng.shuffle(candidates)
        for candidate in candidates[:5]:
            case = self._case_of(candidate["task"])
            kill = None if case is None else await self._kill_holder(client, case, candidate)
            if kill is not None:
                return kill
        return None

    async def _inflight(self) -> list[dict[str, Any]]:
        try:
            calls: list[dict[str, Any]] = (await self.provider.state())["inflight"]
        except Exception:
            return []  # the provider is busy: try again at the next interval
        return calls

    def _case_of(self, user_text: str) -> Case | None:
        """The run whose task the prompt's first user message carries (inside the agent's template)."""
        return next((case for task, case in self.by_task.items() if task in user_text), None)

    async def _kill_holder(self, client: Client, case: Case, candidate: dict[str, Any]) -> SlowKill | None:
        try:
            call = await held_call(client.get_workflow_handle(case.workflow_id))
        except Exception:
            return None
        # No live holder: the attempt's worker is already dead (another fault), so it is not this one.
        slot = None if call is None else self.pool.slot_of(call.identity)
        if slot in self.protected():
            return None
        # The server may have been slow to answer: is the model still on that call, with time left?
        same = [
            c
            for c in await self._inflight()
            if (c["task"], c["turn"]) == (candidate["task"], candidate["turn"])
        ]
        left = max((c["latency_s"] - c["age_s"] for c in same), default=0.0)
        if call is None or slot is None or left < MIN_LEFT_S / 2:
            return None
        self.pool.kill(slot, f"slow {call.workflow_id} {call.activity_id}")
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


def rows(kills: list[SlowKill], missed: int = 0) -> list[tuple[str, str]]:
    recovered = [k.recovery_s for k in kills if k.recovery_s is not None]
    resumed = [k.resumed_s for k in kills if k.resumed_s is not None]
    moved = sum(
        1 for k in kills if k.end and k.end.attempt > k.call.attempt and k.end.identity != k.call.identity
    )
    next_one = sum(1 for k in kills if k.end and k.end.attempt == k.call.attempt + 1)
    left = statistics.median(k.left_s for k in kills) if kills else 0.0
    return [
        (
            "slow-call kills (during llm.complete)",
            f"{len(kills)} (median {left:.1f} s of the call left; {missed} more landed after the call ended)",
        ),
        ("  interrupted call completed elsewhere", f"{moved}/{len(kills)} (a later attempt, another worker)"),
        ("  ...on the very next attempt", f"{next_one}/{len(kills)} (else another fault hit the retry)"),
        ("  recovery: kill -> that call completed", _figures(recovered)),
        (
            "  kill -> its completing attempt started",
            _figures([s for k in kills if (s := k.restarted_s) is not None]),
        ),
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
