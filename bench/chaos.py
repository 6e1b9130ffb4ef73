"""Crash suite (issue 7): agent runs on a dev server with a SQLite file while workers are SIGKILLed.

    python -m bench.chaos [--runs 200] [--workers 3] [--kills 20] [--seed 7] [--deadline 900] [--tiny]

Runs of the demo domain (scripted DemoPolicy): refunds approved by this harness, and escalations it
answers. Workers are killed at seeded random moments (half of them right after an approval, while the
refund runs), workers also kill themselves after a committed refund/ticket write before reporting it,
and the Temporal server is SIGKILLed and restarted once. Exit 0 only with every run completed, none
lost or stuck, exactly one side effect per run, and the requested kills and restart done; 1 otherwise;
2 on bad options.
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
from bench.chaos_store import make_cases, seed_cases, side_effects
from core.process import exit_now


@dataclass
class Faults:
    kills: list[tuple[float, bool]] = field(default_factory=list)  # (at, right after an approval)
    restart: tuple[float, float] | None = None  # (killed at, back at)
    restarts_of_workers: int = 0


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
    parser.add_argument("--tiny", action="store_true", help="smoke test: 12 runs, 2 workers, 3 kills")
    args = parser.parse_args(argv)
    if args.tiny:
        args.runs, args.workers, args.kills = 12, 2, 3
    problems = [
        "--runs must be 1..5000" * (not 0 < args.runs <= 5000),
        "--workers must be 1..16" * (not 0 < args.workers <= 16),
        "--kills must be 0..1000" * (not 0 <= args.kills <= 1000),
        "--deadline must be > 0" * (not args.deadline > 0),
        "--rate must be > 0" * (not args.rate > 0),
        "--die-after-write must be in [0, 0.5]" * (not 0 <= args.die_after_write <= 0.5),
        "--escalations must be in [0, 1]" * (not 0 <= args.escalations <= 1),
    ]
    if any(problems):
        parser.error("; ".join(p for p in problems if p))
    return args


async def chaos(
    args: argparse.Namespace, pool: WorkerPool, server: Server, harness: Harness, done: asyncio.Event
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
        alive = pool.alive()
        if not alive:
            continue
        pool.kill(rng.choice(alive))
        faults.kills.append((time.monotonic(), targeted))
        if len(faults.kills) == restart_after and faults.restart is None:
            killed_at = time.monotonic()
            server.kill()
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            await asyncio.to_thread(server.start)
            faults.restart = (killed_at, time.monotonic())
    return faults


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
    server, provider = Server(root), Provider(root)
    server.start()
    provider.start()
    queue, events = f"chaos-{uuid.uuid4().hex[:6]}", root / "events.log"
    env = worker_env(server, provider, data_dir, queue, args.die_after_write, events)
    pool = WorkerPool(root, args.workers, env, code=snapshot(root))
    pool.start_all()
    harness, done = Harness(server.address, queue, deadline=float("inf")), asyncio.Event()
    try:
        watcher = asyncio.create_task(supervise(pool, done))
        killer = asyncio.create_task(chaos(args, pool, server, harness, done))
        outcomes = await start_runs(args, harness, cases)
        done.set()
        faults = await killer
        await watcher
        attempts = await gather_attempts(harness, outcomes)
    finally:
        done.set()
        pool.stop()
        provider.stop()
        server.stop()
    faults.restarts_of_workers = pool.starts - args.workers
    from bench.chaos_report import report  # the table, separate to keep this module short

    return report(args, cases, outcomes, faults, attempts, side_effects(data_dir), events, started)


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
        try:
            return asyncio.run(run(args, Path(tmp)))
        except RuntimeError as exc:
            print(f"chaos: {exc}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    exit_now(main())  # not sys.exit: see core/process.py
