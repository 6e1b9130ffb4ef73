"""SSE at scale (issue 15): many subscribers of many runs through the HTTP API, next to the CLI's
query polling measured in the same run.

    python -m bench.api_sse [--runs 50] [--subscribers 200] [--llm-ms 300] [--poll-cooldown-ms N] [--tiny]

Each run is bench.progress's refund case (lookups, a refund that waits for an approval, an answer);
the first subscriber of a run approves it through POST /v1/runs/{id}/decisions when it sees the
approval wait. Three processes beside the dev server, as a deployment has them: this one (the
worker), the API (bench/api_sse_server.py) and the readers (bench/api_sse_clients.py: the SSE
subscribers and one CLI follower per run polling the `progress` query as `starter.py run` does), so
the readers' CPU is not the API's. Delay = arrival minus the item's own timestamp (the workflow's
for a step, the worker's publish for a text piece). Lost and duplicated step events are counted
against the CLI's log of the run; SSE ids must rise by one. Exit 1 when a run fails or an event is
lost or repeated.
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
from bench.api_sse_clients import Reading, readings
from bench.progress import book
from cli import runs as cli_runs
from worker import build_worker

TARGET_P95_S = 0.5
API_UP_S = 30.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.api_sse", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=pc.positive, default=50)
    parser.add_argument("--subscribers", type=pc.positive, default=200, help="spread over the runs")
    parser.add_argument("--llm-ms", type=pc.positive, default=300, help="scripted model latency")
    cooldown = stream_feed.POLL_COOLDOWN.total_seconds() * 1000
    parser.add_argument(
        "--poll-cooldown-ms", type=float, default=cooldown, help="the API's stream poll pause"
    )
    parser.add_argument("--no-cli", dest="cli", action="store_false", help="SSE alone, no CLI followers")
    parser.add_argument("--tiny", action="store_true", help="4 runs, 8 subscribers (for tests)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.runs, args.subscribers = 4, 8
    return args


class Tally:
    def __init__(self) -> None:
        self.sse: list[float] = []
        self.cli: list[float] = []
        self.text: list[float] = []
        self.by_kind: dict[str, list[float]] = {}
        self.lost = self.repeated = self.failed = 0

    def count(self, sse: list[Reading], cli: list[Reading]) -> None:
        for i, got in enumerate(sse):
            self.sse += got.steps
            for kind, delay in zip(got.kinds, got.steps, strict=True):
                self.by_kind.setdefault(kind, []).append(delay)
            self.text += got.text
            self.failed += got.failed
            # Without CLI followers, a run's log is known from the steps themselves: 0..n-1, "ended" last.
            expected = cli[i % len(cli)].seqs if cli else list(range(max(got.seqs, default=-1) + 1))
            self.lost += len(set(expected) - set(got.seqs))
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


async def measure(args: argparse.Namespace, server: pc.DevServer, tmp: Path) -> int:
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
    provider = pc.scripted_provider(book(args.llm_ms / 1000))
    try:
        async with build_worker(server.client, queue, [DEMO], provider, {DEMO.name: store}):
            await api_up(url, api)
            env = {"BENCH_APP_TOKEN": app_token, "BENCH_APPROVER_TOKEN": approver_token}
            counts: tuple[str, ...] = ("--runs", str(args.runs), "--subscribers", str(args.subscribers))
            counts += () if args.cli else ("--no-cli",)
            clients_cmd = _python("bench.api_sse_clients", server.address, queue, url, *counts)
            readers = await asyncio.create_subprocess_exec(
                *clients_cmd, stdout=asyncio.subprocess.PIPE, env={**os.environ, **env}
            )
            out, _ = await readers.communicate()
        cpu = {"dev server": server.cpu_s(), "worker (this process)": time.process_time()}
        cpu["API"] = _cpu_s(api.pid)
    finally:
        api.terminate()
        await api.wait()
    tally = Tally()
    if readers.returncode != 0:
        print(f"bench.api_sse: the readers exited {readers.returncode}", file=sys.stderr)
        return 1
    document = json.loads(out)
    tally.count(*readings(document))
    cpu["readers"] = document["cpu_s"]
    print(api_sse_polls.line(polls))
    return report(args, tally, cpu)


def _cpu_s(pid: int) -> float:
    """utime + stime of a child process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(args: argparse.Namespace, tally: Tally, cpu: dict[str, float]) -> int:
    def row(name: str, values: list[float]) -> list[object]:
        p50, p95 = pc.percentile(values, 0.5) * 1000, pc.percentile(values, 0.95) * 1000
        return [name, len(values), f"{p50:.0f}", f"{p95:.0f}"]

    load = pc.load_average()
    print(
        f"SSE: {args.subscribers} subscribers on {args.runs} runs, model {args.llm_ms} ms, "
        f"stream poll cooldown {args.poll_cooldown_ms:.0f} ms; load {load}"
    )
    poll = f"CLI query poll every {cli_runs.POLL_SECONDS * 1000:.0f} ms"
    rows = [
        row("SSE progress, one stream subscription per run", tally.sse),
        row("SSE model text (from the activity's publish)", tally.text),
        row(poll, tally.cli),
    ]
    print("\n".join(pc.table(["follower", "events", "p50 ms", "p95 ms"], rows)))
    kinds = sorted(tally.by_kind.items(), key=lambda kv: -pc.percentile(kv[1], 0.95))
    each = ", ".join(f"{kind} {pc.percentile(d, 0.95) * 1000:.0f}" for kind, d in kinds)
    print(f"SSE progress p95 ms by kind: {each}")
    p95 = pc.percentile(tally.sse, 0.95)
    verdict = "met" if p95 <= TARGET_P95_S else "NOT met"
    print(f"SSE p95 {p95 * 1000:.0f} ms (target <= {TARGET_P95_S * 1000:.0f} ms: {verdict})")
    print("CPU s: " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu.items()))
    print(f"lost events: {tally.lost}; repeated or out of order: {tally.repeated}; failed: {tally.failed}")
    return 1 if tally.lost or tally.repeated or tally.failed else 0


async def amain(args: argparse.Namespace) -> int:
    try:
        server = await pc.start_server("tuned", pc.TUNED)
    except pc.Unreachable as exc:
        print(f"bench.api_sse: {exc}", file=sys.stderr)
        return 1
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return await measure(args, server, Path(tmp))
    except pc.Unreachable as exc:
        print(f"bench.api_sse: {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> NoReturn:
    entry.run(amain, parse_args(argv), level="ERROR")


if __name__ == "__main__":
    main()
