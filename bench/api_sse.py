"""SSE at scale (issue 15): many subscribers of many runs through the HTTP API, next to the CLI's
query polling measured in the same run.

    python -m bench.api_sse [--runs 50] [--subscribers 200] [--llm-ms 2000,1000,300] [--poll-cooldown-ms N]
                            [--cli-runs 10] [--tiny]

Each run is bench.progress's refund case (lookups, a refund that waits for an approval, an answer);
the first subscriber of a run approves it through POST /v1/runs/{id}/decisions when it sees the
approval wait. Three processes beside the dev server, as a deployment has them: this one (the
worker), the API (bench/api_sse_server.py) and the readers (bench/api_sse_clients.py: the SSE
subscribers and, on --cli-runs of the runs, a CLI follower polling the `progress` query as
`starter.py run` does), so the readers' CPU is not the API's. Delay = arrival minus the item's own
timestamp (the workflow's for a step, the worker's publish for a text piece). Lost and duplicated
step events are counted against each ended run's own log (its `progress` query, asked once after
the measured phase); SSE ids must rise by one. Exit 1 when a run fails or an event is
lost or repeated.

Each model latency of --llm-ms is a case of its own, on a fresh dev server, one after another. All
four processes share this machine's cores, so each case prints its utilization (their CPU seconds
over its wall time and the cores): a latency target only means something below saturation, where
delay is the pipeline's; at saturation it is the queue's, and grows with the burst.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import NoReturn

import httpx

from agents.merchant_support import AGENT as DEMO
from agents.merchant_support import Store
from api import TokenStore, stream_feed
from bench import api_sse_polls, entry
from bench import perf_common as pc
from bench.api_sse_clients import BEGIN, END, Reading, readings
from bench.options import non_negative
from bench.progress import book
from cli import runs as cli_runs
from worker import build_worker

TARGET_P95_S = 0.5
API_UP_S = 30.0
# Model latencies from a hosted model's usual tool-calling turn down to a stress level at which the
# two cores, shared by all four processes, are near saturation.
DEFAULT_LLM_MS = [2000, 1000, 300]
# The CLI's polling is measured on every 5th run: it costs the server and the worker a query per
# follower every POLL_SECONDS, which on one follower per run would take a fifth of the two cores from
# the pipeline both are measured on.
CLI_RUNS = 10
SETTLE_S = 5.0  # between cases: the previous server's exit and the load average settle


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.api_sse", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=pc.positive, default=50)
    parser.add_argument("--subscribers", type=pc.positive, default=200, help="spread over the runs")
    parser.add_argument(
        "--llm-ms", type=pc.positive_list, default=DEFAULT_LLM_MS, help="model latencies, a case each"
    )
    cooldown = stream_feed.POLL_COOLDOWN.total_seconds() * 1000
    parser.add_argument(
        "--poll-cooldown-ms", type=float, default=cooldown, help="the API's stream poll pause"
    )
    parser.add_argument(
        "--cli-runs", type=non_negative, default=CLI_RUNS, help="runs with a CLI follower too (0: none)"
    )
    parser.add_argument("--tiny", action="store_true", help="4 runs, 8 subscribers (for tests)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.runs, args.subscribers, args.llm_ms, args.cli_runs = 4, 8, [300], 4
    args.cli_runs = min(args.cli_runs, args.runs)
    return args


class Tally:
    def __init__(self) -> None:
        self.sse: list[float] = []
        self.cli: list[float] = []
        self.text: list[float] = []
        self.by_kind: dict[str, list[float]] = {}
        self.lost = self.repeated = self.failed = 0

    def count(self, sse: list[Reading], cli: list[Reading], logs: list[list[int]]) -> None:
        """`logs`: each run's step seqs as the ended run itself gives them (its `progress` query)."""
        for i, got in enumerate(sse):
            self.sse += got.steps
            for kind, delay in zip(got.kinds, got.steps, strict=True):
                self.by_kind.setdefault(kind, []).append(delay)
            self.text += got.text
            self.failed += got.failed
            self.lost += len(set(logs[i % len(logs)]) - set(got.seqs))
            self.repeated += len(got.seqs) - len(set(got.seqs)) + (got.seqs != sorted(got.seqs))
            self.repeated += got.ids != list(range(got.ids[0], got.ids[0] + len(got.ids))) if got.ids else 0
        for got in cli:
            self.cli += got.steps


def _python(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


async def api_up(url: str, proc: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(int(API_UP_S / 0.1)):
            if proc.returncode is not None:
                raise pc.Unreachable("the API process exited")
            try:
                await http.get("/openapi.json")
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise pc.Unreachable(f"the API did not come up at {url} in {API_UP_S:.0f} s")


class Case:
    """One model latency's figures: the tally, each process's CPU seconds, the readers' wall time."""

    def __init__(self, llm_ms: int, tally: Tally, cpu: dict[str, float], wall_s: float, polls: str) -> None:
        self.llm_ms, self.tally, self.cpu, self.wall_s, self.polls = llm_ms, tally, cpu, wall_s, polls

    @property
    def utilization(self) -> float:
        return sum(self.cpu.values()) / (self.wall_s * (os.cpu_count() or 1))


async def measure(args: argparse.Namespace, llm_ms: int, server: pc.DevServer, tmp: Path) -> Case | None:
    queue, port = f"sse-{uuid.uuid4().hex[:6]}", pc._free_port()
    url = f"http://127.0.0.1:{port}"
    store = await Store.open_async(tmp)
    tokens = TokenStore(tmp / "api.db")
    app_token, approver_token = (
        tokens.mint("bench-app", [])[1],
        tokens.mint("bench-approver", ["approver"])[1],
    )
    polls = tmp / "polls.json"
    cooldown = ("--poll-cooldown-ms", str(args.poll_cooldown_ms), "--poll-times", str(polls))
    api_cmd = _python(
        "bench.api_sse_server", server.address, queue, str(port), str(tmp / "api.db"), *cooldown
    )
    api = await asyncio.create_subprocess_exec(*api_cmd, stdin=asyncio.subprocess.DEVNULL)
    provider = pc.scripted_provider(book(llm_ms / 1000))
    try:
        async with build_worker(server.client, queue, [DEMO], provider, {DEMO.name: store}):
            await api_up(url, api)
            env = {"BENCH_APP_TOKEN": app_token, "BENCH_APPROVER_TOKEN": approver_token}
            counts: tuple[str, ...] = ("--runs", str(args.runs), "--subscribers", str(args.subscribers))
            counts += ("--cli-runs", str(args.cli_runs))
            clients_cmd = _python("bench.api_sse_clients", server.address, queue, url, *counts)
            readers = await asyncio.create_subprocess_exec(
                *clients_cmd, stdout=asyncio.subprocess.PIPE, env={**os.environ, **env}
            )
            assert readers.stdout is not None
            cpu: list[dict[str, float]] = []  # at the readers' BEGIN and END lines
            for marker in (BEGIN, END):
                line = (await readers.stdout.readline()).decode().strip()
                if line != marker:
                    break
                cpu.append({"dev server": server.cpu_s(), "worker (this process)": time.process_time()})
                cpu[-1]["API"] = pc.process_cpu_s(api.pid)
            out = await readers.stdout.read()
            await readers.wait()
    finally:
        api.terminate()
        await api.wait()
    if readers.returncode != 0 or len(cpu) != 2:
        print(f"bench.api_sse: the readers exited {readers.returncode}", file=sys.stderr)
        return None
    document = json.loads(out)
    tally = Tally()
    tally.count(*readings(document))
    used = {name: seconds - cpu[0][name] for name, seconds in cpu[1].items()}
    used["readers"] = document["cpu_s"]
    return Case(llm_ms, tally, used, document["wall_s"], api_sse_polls.line(polls))


def report(args: argparse.Namespace, case: Case) -> None:
    def row(name: str, values: list[float]) -> list[object]:
        p50, p95 = pc.percentile(values, 0.5) * 1000, pc.percentile(values, 0.95) * 1000
        return [name, len(values), f"{p50:.0f}", f"{p95:.0f}"]

    tally = case.tally
    print(case.polls)
    print(
        f"SSE: {args.subscribers} subscribers on {args.runs} runs, model {case.llm_ms} ms, "
        f"stream poll cooldown {args.poll_cooldown_ms:.0f} ms; load {pc.load_average()}"
    )
    poll = f"CLI query poll every {cli_runs.POLL_SECONDS * 1000:.0f} ms ({args.cli_runs} runs)"
    rows = [
        row("SSE progress, one stream subscription per run", tally.sse),
        row("SSE model text (from the activity's publish)", tally.text),
        row(poll, tally.cli),
    ]
    print("\n".join(pc.table(["follower", "events", "p50 ms", "p95 ms"], rows)))
    kinds = sorted(tally.by_kind.items(), key=lambda kv: -pc.percentile(kv[1], 0.95))
    each = ", ".join(f"{kind} {pc.percentile(d, 0.95) * 1000:.0f}" for kind, d in kinds)
    print(f"SSE progress p95 ms by kind: {each}")
    cpu = ", ".join(f"{name} {seconds:.1f}" for name, seconds in case.cpu.items())
    cores = os.cpu_count()
    print(f"CPU s over {case.wall_s:.1f} s: {cpu}; utilization {case.utilization:.0%} of {cores} cores")
    print(f"lost events: {tally.lost}; repeated or out of order: {tally.repeated}; failed: {tally.failed}")


def summary(cases: list[Case]) -> None:
    rows = []
    for case in cases:
        p95 = pc.percentile(case.tally.sse, 0.95)
        verdict = "met" if p95 <= TARGET_P95_S else "NOT met"
        cli = pc.percentile(case.tally.cli, 0.95) * 1000 if case.tally.cli else float("nan")
        rows.append([case.llm_ms, f"{case.utilization:.0%}", f"{p95 * 1000:.0f}", f"{cli:.0f}", verdict])
    print(f"\nSSE progress p95 against the target <= {TARGET_P95_S * 1000:.0f} ms, case by case:")
    header = ["model ms", "utilization", "SSE p95 ms", "CLI poll p95 ms", "target"]
    print("\n".join(pc.table(header, rows)))


async def one_case(args: argparse.Namespace, llm_ms: int) -> Case | None:
    try:
        server = await pc.start_server("tuned", pc.TUNED)
    except pc.Unreachable as exc:
        print(f"bench.api_sse: {exc}", file=sys.stderr)
        return None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return await measure(args, llm_ms, server, Path(tmp))
    except pc.Unreachable as exc:
        print(f"bench.api_sse: {exc}", file=sys.stderr)
        return None
    finally:
        server.stop()


async def amain(args: argparse.Namespace) -> int:
    cases: list[Case] = []
    for n, llm_ms in enumerate(args.llm_ms):
        if n:
            await asyncio.sleep(SETTLE_S)
        print(f"\n== case {n + 1}/{len(args.llm_ms)}: model {llm_ms} ms", flush=True)
        case = await one_case(args, llm_ms)
        if case is None:
            return 1
        report(args, case)
        cases.append(case)
    summary(cases)
    broken = any(c.tally.lost or c.tally.repeated or c.tally.failed for c in cases)
    return 1 if broken else 0


def main(argv: list[str] | None = None) -> NoReturn:
    entry.run(amain, parse_args(argv), level="ERROR")


if __name__ == "__main__":
    main()
