"""Throughput benchmark (issue 8): N concurrent agent runs against bare workflows of the same shape.

    python -m bench.throughput [--runs 50,200,500] [--sqlite-runs 200] [--turns 8] [--llm-ms 300]
        [--repeats 3] [--sqlite-repeats 1] [--worker-options JSON] [--no-tuning-check]
        [--address HOST:PORT] [--tiny]

Both workers take the production worker options (core/worker_options.py, so AGENT_WORKFLOW_RUNNER
too), then --worker-options on top.

Each agent run: `turns` turns of a scripted model (llm-ms latency) calling one 100 ms tool, then an
answer turn; the bare workflow runs the same 2·turns+1 activities with the same sleeps. Each batch of
N runs of one kind meets a fresh server of its setup (a server slows as finished runs pile up; see
run_setup), and each kind runs `repeats` batches per N, of which the median is shown (see medians):
on a tuned in-memory server, a tuned SQLite-file server and, unless --no-tuning-check, a default
in-memory server (ours at the largest N). With --address both kinds share that server. Per N: wall
time, runs/s, steps/s, p50/p95 run latency, CPU seconds per step of this process (worker and client)
and of the server (/proc), failures, and ours/bare. Exit 1 when a
server cannot be reached or a run failed, 2 on bad options.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from temporalio.client import Client
from temporalio.worker import Worker

from agents.merchant_support import Store
from bench import entry
from bench import perf_common as pc
from bench.agents import PERF
from bench.noop_tools import SLEEP_S, SLEEP_TOOLS
from bench.throughput_batch import HEADER, Batch
from core.models import RunState
from core.worker_options import worker_options
from worker import build_worker
from workflows.agent import AgentWorkflow


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=pc.positive_list, default=[50, 200, 500], help="N values (in-memory)")
    parser.add_argument("--sqlite-runs", type=pc.positive_list, default=[200], help="N values (SQLite file)")
    parser.add_argument("--turns", type=pc.positive, default=8, help="tool turns per run (8)")
    parser.add_argument("--llm-ms", type=pc.positive, default=300, help="scripted model latency (300)")
    parser.add_argument(
        "--worker-options", type=json.loads, default={}, help='e.g. {"max_cached_workflows": 600}'
    )
    parser.add_argument("--no-tuning-check", action="store_true", help="skip the default-settings server")
    parser.add_argument("--address", help="an existing Temporal server (only its runs are measured)")
    parser.add_argument(
        "--repeats", type=pc.positive, default=3, help="batches per kind and N, in-memory (median shown)"
    )
    parser.add_argument("--sqlite-repeats", type=pc.positive, default=1, help="the same, SQLite file (1)")
    parser.add_argument("--tiny", action="store_true", help="N=3, 2 turns (for tests)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.runs, args.sqlite_runs, args.turns, args.repeats = [3], [3], 2, 1
    return args


STARTED = time.perf_counter()


class Rig:
    """The agent worker and the bare worker of one server, and how to fire a batch at either."""

    def __init__(
        self, client: Client, store: Store, args: argparse.Namespace, server: pc.DevServer | None
    ) -> None:
        self.client, self.args, self.server, self.tag = client, args, server, uuid.uuid4().hex[:6]
        self.provider = pc.scripted_provider(pc.perf_book([args.turns], args.llm_ms / 1000, SLEEP_TOOLS))
        self.store = store

    def workers(self) -> list[Worker]:
        options = {**worker_options(), **self.args.worker_options}
        bare = Worker(
            self.client,
            task_queue=f"bare-{self.tag}",
            workflows=[pc.BareWorkflow],
            activities=[pc.perf_step],
            **options,
        )
        agent = build_worker(self.client, f"agent-{self.tag}", [PERF], self.provider, {}, **options)
        return [agent, bare]

    async def _one(self, kind: str, i: int) -> float:
        """Seconds from start to result; raises on anything but a completed run."""
        started = time.perf_counter()
        wid = f"tp-{kind}-{self.tag}-{i}"
        if kind == "ours":
            result = await self.client.execute_workflow(
                AgentWorkflow.run,
                pc.perf_request(self.args.turns),
                id=wid,
                task_queue=f"agent-{self.tag}",
                search_attributes=pc.perf_start_attributes(),
            )
            if result.status != RunState.COMPLETED:
                raise RuntimeError(f"{wid} ended {result.status.value}: {result.answer[:120]}")
        else:
            inp = pc.BareInput(
                steps=2 * self.args.turns + 1, llm_ms=self.args.llm_ms, tool_ms=round(SLEEP_S * 1000)
            )
            await self.client.execute_workflow(
                "PerfBare", inp, id=wid, task_queue=f"bare-{self.tag}", result_type=int
            )
        return time.perf_counter() - started

    async def batch(self, kind: str, runs: int, label: str) -> Batch:
        self.tag_n = getattr(self, "tag_n", 0) + 1
        server_cpu = self.server.cpu_s() if self.server else None
        cpu, started = time.process_time(), time.perf_counter()
        offset = self.tag_n * 100_000
        done = await asyncio.gather(
            *(self._one(kind, offset + i) for i in range(runs)), return_exceptions=True
        )
        wall = time.perf_counter() - started
        latencies = [d for d in done if isinstance(d, float)]
        failures = [f"{type(d).__name__}: {d}" for d in done if isinstance(d, BaseException)]
        server_s = self.server.cpu_s() - server_cpu if self.server and server_cpu is not None else None
        steps = runs * (2 * self.args.turns + 1)
        return Batch(label, runs, steps, wall, latencies, failures, time.process_time() - cpu, server_s)


async def one_batch(
    client: Client, server: pc.DevServer | None, runs: int, kind: str, args: argparse.Namespace
) -> Batch:
    """N runs of one kind, with fresh workers, after a small warm-up."""
    with tempfile.TemporaryDirectory(prefix="perf-store-") as tmp:
        rig = Rig(client, Store.open(Path(tmp)), args, server)
        async with AsyncExitStack() as stack:
            for worker in rig.workers():
                await stack.enter_async_context(worker)
            await rig.batch(kind, 2, "warm-up")
            batch = await rig.batch(kind, runs, kind)
        await rig.provider.aclose()
    return batch


async def medians(
    sizes: list[int], kinds: list[str], repeats: int, run: Callable[[int, str], Awaitable[Batch]]
) -> list[tuple[Batch, Batch | None]]:
    """Per N, `repeats` batches of each kind, the kind going first alternating; each kind's median.

    Repeats: on this 2-core machine one 500-run batch of the same code ranged from 164 to 210 steps/s
    between runs minutes apart, so one batch per kind can decide a ratio by luck. Alternating: on a
    shared server (--address), whichever kind went second would pay for the first one's finished runs
    (see run_setup).
    """
    out: list[tuple[Batch, Batch | None]] = []
    for runs in sizes:
        batches: dict[str, list[Batch]] = {kind: [] for kind in kinds}
        for repeat in range(repeats):
            for kind in kinds if repeat % 2 == 0 else reversed(kinds):
                batch = await run(runs, kind)
                batches[kind].append(batch)
                # Progress as it goes: the whole bench takes many minutes.
                print(
                    f"  [{time.perf_counter() - STARTED:6.0f} s] {kind} N={runs} "
                    f"repeat {repeat + 1}/{repeats}: {batch.steps / batch.wall_s:.0f} steps/s",
                    file=sys.stderr,
                    flush=True,
                )
        median = {kind: Batch.median(parts) for kind, parts in batches.items()}
        out.append((median["ours"], median.get("bare")))
    return out


@dataclass(frozen=True)
class Setup:
    label: str
    dynamic: dict[str, str]
    sqlite: bool
    sizes: list[int]
    kinds: list[str]
    repeats: int


def setups(args: argparse.Namespace) -> list[Setup]:
    both = ["bare", "ours"]
    plan = [Setup("tuned, in-memory", pc.TUNED, False, args.runs, both, args.repeats)]
    plan.append(Setup("tuned, SQLite file", pc.TUNED, True, args.sqlite_runs, both, args.sqlite_repeats))
    if not args.no_tuning_check:
        default = Setup("default settings, in-memory", {}, False, [max(args.runs)], ["ours"], args.repeats)
        plan.append(default)
    return plan


async def run_setup(setup: Setup, args: argparse.Namespace) -> list[tuple[Batch, Batch | None]]:
    """Every batch on a fresh server of this setup: a server slows as finished runs pile up (on one
    in-memory server, bare fell from 233 to 172 steps/s and its server CPU per step rose from 5.4 to
    7.5 ms over nine 300-run batches), so no batch should meet one that earlier batches have slowed."""

    async def on_fresh_server(runs: int, kind: str) -> Batch:
        with tempfile.TemporaryDirectory(prefix="perf-db-") as tmp:
            server = await pc.start_server(
                setup.label, setup.dynamic, Path(tmp) / "temporal.db" if setup.sqlite else None
            )
            try:
                return await one_batch(server.client, server, runs, kind, args)
            finally:
                server.stop()

    return await medians(setup.sizes, setup.kinds, setup.repeats, on_fresh_server)


def section(title: str, results: list[tuple[Batch, Batch | None]]) -> list[str]:
    rows = []
    for ours, bare in results:
        if bare is not None:
            rows.append(bare.row(None))
        rows.append(ours.row(bare))
    failures = [f for ours, bare in results for f in ours.failures + (bare.failures if bare else [])]
    return [f"server: {title}", *pc.table(HEADER, rows), *[f"  failure: {f}" for f in failures[:5]], ""]


def tuning_line(tuned: list[tuple[Batch, Batch | None]], default: list[tuple[Batch, Batch | None]]) -> str:
    t, d = tuned[-1][0], default[-1][0]
    ratio = (t.steps / t.wall_s) / (d.steps / d.wall_s)
    return (
        f"tuning check, ours at N={t.runs}: tuned {t.steps / t.wall_s:.0f} steps/s vs default "
        f"{d.steps / d.wall_s:.0f} steps/s (tuned/default = {ratio:.2f}; must be ≥ 0.90)"
    )


def described(extra: dict[str, Any]) -> str:
    options = {**worker_options(), **extra}
    shown = ", ".join(f"{k}={type(v).__name__ if hasattr(v, '__dict__') else v}" for k, v in options.items())
    return f"{shown}, gc threshold {gc.get_threshold()} (AGENT_GC_THRESHOLD)"


async def amain(args: argparse.Namespace) -> int:
    wall = time.perf_counter()
    shape = (
        f"{args.turns} turns × (scripted model {args.llm_ms} ms + one {round(SLEEP_S * 1000)} ms tool) "
        f"+ answer = {2 * args.turns + 1} steps per run; worker options {described(args.worker_options)}"
    )
    lines = [
        f"Throughput: {shape}; load average {pc.load_average()}",
        "worker cpu: this process (both workers and the client starting the runs); server cpu: the dev "
        "server process (/proc utime+stime); steps/s counts activities; ours/bare compares steps/s",
        "",
    ]
    try:
        if args.address:
            client = await pc.connect(args.address)

            async def on_shared_server(runs: int, kind: str) -> Batch:
                return await one_batch(client, None, runs, kind, args)

            shared = await medians(args.runs, ["bare", "ours"], args.repeats, on_shared_server)
            lines += section(args.address, shared)
        else:
            results = {s.label: await run_setup(s, args) for s in setups(args)}
            lines += [line for label, res in results.items() for line in section(label, res)]
            if not args.no_tuning_check:
                lines.append(tuning_line(results["tuned, in-memory"], results["default settings, in-memory"]))
    except pc.Unreachable as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    print(
        "\n".join([*lines, f"wall time {time.perf_counter() - wall:.1f} s; load average {pc.load_average()}"])
    )
    return 1 if any("failure:" in line for line in lines) else 0


def main(argv: list[str] | None = None) -> NoReturn:
    # Production keeps INFO; see the report.
    entry.run(amain, parse_args(argv), level="WARNING")


if __name__ == "__main__":
    main()
