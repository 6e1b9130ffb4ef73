"""Crash suite (issues 7, 13): agent runs on a dev server with a SQLite file while workers are SIGKILLed.

    python -m bench.chaos [--runs 200] [--workers 3] [--kills 20] [--slow-kills 10] [--seed 7] [--tiny]

Runs of the demo agent (its stand-in model, served over HTTP by bench/fake_provider.py, where a seeded share
of model calls takes --slow-s seconds): refunds approved by this harness, and escalations it answers.
Workers are killed at seeded random moments (half of them right after an approval, while the refund
runs), --slow-kills times the worker holding a slow `llm.complete` is killed mid-call (bench/chaos_slow.py),
workers also kill themselves after a committed refund/ticket write before reporting it, and the
Temporal server is SIGKILLed and restarted once. Exit 0 only with every run completed, none lost or
stuck, exactly one side effect per run, the requested kills and restart done, and slow-call recovery
p95 within --slow-target-s; 1 otherwise; 2 on bad options. --keep DIR keeps the server's database,
the logs and kills.log (time, pid, why) for reading histories afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.chaos_cluster import Provider, Server, WorkerPool, snapshot, worker_env
from bench.chaos_harness import Harness, Outcome, attempts_of
from bench.chaos_slow import SlowKill, SlowKiller, measure
from bench.chaos_store import make_cases, seed_cases, side_effects
from bench.fake_provider import seconds_span
from core.process import exit_now


@dataclass
class Faults:
    kills: list[tuple[float, bool]] = field(default_factory=list)  # (at, right after an approval)
    restart: tuple[float, float] | None = None  # (killed at, back at)
    restarts_of_workers: int = 0
    slow_kills: list[SlowKill] = field(default_factory=list)
    slow_missed: int = 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kills", type=int, default=20, help="harness SIGKILLs of workers (at least)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds after the last start")
    parser.add_argument("--rate", type=float, default=8.0, help="run starts per second")
    parser.add_argument(
        "--die-after-write", type=float, default=0.1, help="chance a worker dies after a write"
    )
    parser.add_argument("--escalations", type=float, default=0.25, help="share of escalation runs")
    parser.add_argument(
        "--slow-kills", type=int, default=10, help="kills during a slow model call (at least)"
    )
    parser.add_argument("--slow-share", type=float, default=0.25, help="share of model calls that are slow")
    parser.add_argument(
        "--slow-s", type=seconds_span, default=(4.0, 8.0), help="a slow call's seconds, LO-HI"
    )
    parser.add_argument("--slow-target-s", type=float, default=40.0, help="slow-call recovery p95, at most")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (logs, server db)")
    parser.add_argument("--tiny", action="store_true", help="smoke test: 12 runs, 2 workers, 3+1 kills")
    args = parser.parse_args(argv)
    if args.tiny:
        args.runs, args.workers, args.kills, args.slow_kills, args.slow_share = 12, 2, 3, 1, 0.5
    problems = [
        "--runs must be 1..5000" * (not 0 < args.runs <= 5000),
        "--workers must be 1..16" * (not 0 < args.workers <= 16),
        "--kills must be 0..1000" * (not 0 <= args.kills <= 1000),
        "--deadline must be > 0" * (not args.deadline > 0),
        "--rate must be > 0" * (not args.rate > 0),
        "--die-after-write must be in [0, 0.5]" * (not 0 <= args.die_after_write <= 0.5),
        "--escalations must be in [0, 1]" * (not 0 <= args.escalations <= 1),
        "--slow-kills must be 0..1000" * (not 0 <= args.slow_kills <= 1000),
        "--slow-share must be in [0, 1]" * (not 0 <= args.slow_share <= 1),
        "--slow-kills need --slow-share > 0" * (args.slow_kills > 0 and args.slow_share == 0),
        "--slow-s must be at least 3 s" * (not args.slow_s[0] >= 3),
        "--slow-target-s must be > 0" * (not args.slow_target_s > 0),
    ]
    if any(problems):
        parser.error("; ".join(p for p in problems if p))
    return args


async def chaos(
    args: argparse.Namespace,
    pool: WorkerPool,
    server: Server,
    harness: Harness,
    done: asyncio.Event,
    slow: SlowKiller,
) -> Faults:
    """Kill workers at seeded random moments and restart the server once, half-way through the kills."""
    rng, faults = random.Random(args.seed), Faults()
    restart_after = max(1, args.kills // 2)
    while len(faults.kills) < args.kills and not done.is_set():
        await asyncio.sleep(rng.uniform(0.3, 2.0))
        targeted = rng.random() < 0.5
        if targeted:
            # Right after an approval the refund activity runs: the window between write and report.
            harness.approved.clear()
            try:
                await asyncio.wait_for(harness.approved.wait(), timeout=5)
                await asyncio.sleep(rng.uniform(0.0, 0.03))
            except TimeoutError:
                targeted = False
        # Not the worker running a slow-call kill's retry: that recovery figure is one crash's.
        alive = [slot for slot in pool.alive() if slot not in slow.protected()]
        if not alive:
            continue
        pool.kill(rng.choice(alive), "after-approval" if targeted else "random")
        faults.kills.append((time.monotonic(), targeted))
        if len(faults.kills) == restart_after and faults.restart is None:
            faults.restart = await restart_server(server, slow, rng)
    return faults


async def restart_server(server: Server, slow: SlowKiller, rng: random.Random) -> tuple[float, float]:
    """SIGKILL the server and start it again, once no slow-call kill's retry is being watched."""
    await slow.settled()
    killed_at = time.monotonic()
    server.kill()
    await asyncio.sleep(rng.uniform(0.5, 2.0))
    await asyncio.to_thread(server.start)
    return killed_at, time.monotonic()


async def slow_chaos(
    args: argparse.Namespace, slow: SlowKiller, harness: Harness, done: asyncio.Event
) -> None:
    """--slow-kills kills, each of the worker holding a slow model call, at seeded intervals."""
    client = await harness.connect()
    while not done.is_set():
        await asyncio.sleep(slow.pause_s())
        if slow.counted() >= args.slow_kills:
            await slow.drain()  # a kill found late (after the call ended) is not counted: try again
            if slow.counted() >= args.slow_kills:
                return
            continue
        await slow.kill_one(client)
    await slow.drain()


async def supervise(pool: WorkerPool, done: asyncio.Event) -> None:
    """Restart dead workers (killed by us or by themselves) every half second."""
    while not done.is_set():
        pool.revive()
        await asyncio.sleep(0.5)


async def start_runs(args: argparse.Namespace, harness: Harness, cases: list[Any]) -> list[Outcome]:
    tasks = []
    for case in cases:
        tasks.append(asyncio.create_task(harness.drive(case)))
        await asyncio.sleep(1 / args.rate)
    harness.deadline = time.monotonic() + args.deadline
    return list(await asyncio.gather(*tasks))


async def run(args: argparse.Namespace, root: Path) -> int:
    started = time.monotonic()
    cases = make_cases(args.runs, args.escalations)
    data_dir = root / "data"
    seed_cases(data_dir, cases)
    server, provider = Server(root), Provider(root, provider_flags(args))
    server.start()
    provider.start()
    queue, events = f"chaos-{uuid.uuid4().hex[:6]}", root / "events.log"
    env = worker_env(server, provider, data_dir, queue, args.die_after_write, events)
    pool = WorkerPool(root, args.workers, env, code=snapshot(root))
    pool.start_all()
    harness, done = Harness(server.address, queue, deadline=float("inf")), asyncio.Event()
    slow = SlowKiller(pool, provider, cases, args.seed)
    try:
        watcher = asyncio.create_task(supervise(pool, done))
        killer = asyncio.create_task(chaos(args, pool, server, harness, done, slow))
        slow_killer = asyncio.create_task(slow_chaos(args, slow, harness, done))
        outcomes = await start_runs(args, harness, cases)
        done.set()
        faults = await killer
        await asyncio.gather(watcher, slow_killer)
        attempts = await gather_attempts(harness, outcomes)
        await measure(await harness.connect(), slow.kills)
    finally:
        done.set()
        pool.stop()
        provider.stop()
        server.stop()
    faults.restarts_of_workers, faults.slow_kills = pool.starts - args.workers, slow.kills
    faults.slow_missed = slow.missed
    from bench.chaos_report import report  # the table, separate to keep this module short

    return report(args, cases, outcomes, faults, attempts, side_effects(data_dir), events, started)


def provider_flags(args: argparse.Namespace) -> list[str]:
    """The fake provider's latency rule: instant calls, and a seeded share of slow ones."""
    low, high = args.slow_s
    return ["--seed", str(args.seed), "--slow-share", str(args.slow_share), "--slow-s", f"{low:g}-{high:g}"]


async def gather_attempts(harness: Harness, outcomes: list[Outcome]) -> list[dict[str, int]]:
    client = await harness.connect()
    found = []
    for outcome in outcomes:
        try:
            found.append(await attempts_of(client, outcome.case.workflow_id))
        except Exception:
            found.append({})
    return found


def recovery_times(faults: Faults, outcomes: list[Outcome]) -> list[float]:
    """Per fault: seconds until the next run completed (the system made progress again)."""
    finished = sorted(o.finished_at for o in outcomes if o.finished_at is not None)
    times = []
    for at in [k for k, _ in faults.kills] + ([faults.restart[1]] if faults.restart else []):
        later = [f for f in finished if f >= at]
        if later:
            times.append(later[0] - at)
    return times


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(ordered):.1f} s, p90 {p90:.1f} s, max {ordered[-1]:.1f} s"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        root = Path(tmp) if args.keep is None else args.keep
        root.mkdir(parents=True, exist_ok=True)
        try:
            return asyncio.run(run(args, root))
        except RuntimeError as exc:
            print(f"chaos: {exc}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    exit_now(main())  # not sys.exit: see core/process.py
