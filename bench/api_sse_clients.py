"""The readers of bench/api_sse.py, in a process of their own so they do not take the API's CPU:
SSE subscribers of the API and, side by side on --cli-runs of the runs, a CLI follower polling the
`progress` query.

    python -m bench.api_sse_clients ADDRESS QUEUE API_URL --runs N --subscribers M --cli-runs K
    (the tokens in the env)

Starts the runs through the API itself, one after another, and a run's readers connect as soon as
its POST returns. Prints BEGIN and END around the measured phase, then one JSON document: each
reader's delays (arrival minus the item's own timestamp: the workflow's for a step, the worker's for
a text piece) and the step seqs it saw, each run's own log, and the phase's CPU and wall seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from agents.merchant_support import AGENT as DEMO
from bench import entry
from bench import perf_common as pc
from bench.options import non_negative
from bench.progress import TASK
from cli import runs as cli_runs
from client import AgentClient
from core.live import TextPiece
from core.models import RunState
from core.progress import ProgressEvent

BEGIN, END = "measuring", "measured"  # the lines before the JSON document on stdout
APPROVALS: set[asyncio.Task[None]] = set()  # referenced until the readers end


def _delay(at: datetime) -> float:
    return (datetime.now(UTC) - at).total_seconds()


class Reading:
    def __init__(self) -> None:
        self.steps: list[float] = []
        self.text: list[float] = []
        self.seqs: list[int] = []
        self.kinds: list[str] = []  # each step's kind, beside its delay
        self.ids: list[int] = []
        self.failed = 0


async def subscribe(http: httpx.AsyncClient, run_id: str, approver: dict[str, str] | None) -> Reading:
    """Read one run's stream to its result."""
    got = Reading()
    async with http.stream("GET", f"/v1/runs/{run_id}/events") as response:
        event, data, event_id = "", "", None
        async for line in response.aiter_lines():
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and event:
                if event == "text":
                    got.text.append(_delay(TextPiece.model_validate_json(data).at))
                elif event == "progress":
                    item = ProgressEvent.model_validate_json(data)
                    got.steps.append(_delay(item.at))
                    got.seqs.append(item.seq)
                    got.kinds.append(item.kind.value)
                    if approver is not None and item.kind == "approval.waiting":
                        APPROVALS.add(asyncio.create_task(approve(http, run_id, approver)))
                else:
                    end = json.loads(data)
                    if end.get("status") != RunState.COMPLETED:
                        got.failed += 1
                        print(f"{run_id}: {event} {str(end.get('status') or end)[:300]}", file=sys.stderr)
                    return got
                if event_id is not None:
                    got.ids.append(event_id)
                event, event_id = "", None
    got.failed += 1  # the stream ended without a result
    return got


async def approve(http: httpx.AsyncClient, run_id: str, approver: dict[str, str]) -> None:
    view = (await http.get(f"/v1/runs/{run_id}")).json()
    for item in view.get("pending", []):
        body = {"call_id": item["call_id"], "verdict": "approve", "args_sha256": item["args_sha256"]}
        await http.post(f"/v1/runs/{run_id}/decisions", json=body, headers=approver)


async def cli_follow(runs: AgentClient, run_id: str) -> Reading:
    got = Reading()

    def observe(event: ProgressEvent, shown: datetime) -> None:
        got.steps.append((shown - event.at).total_seconds())
        got.seqs.append(event.seq)

    await cli_runs.follow(runs.handle(run_id), lambda _line: None, observe=observe)
    return got


async def final_log(runs: AgentClient, run_id: str) -> list[int]:
    """The ended run's step seqs, from its own `progress` query: what every reader must have seen."""
    seqs: list[int] = []
    while True:
        page = await runs.progress(runs.handle(run_id), len(seqs))
        seqs += [event.seq for event in page.events]
        if not page.events or len(seqs) >= page.next_seq:
            return seqs


async def amain(args: argparse.Namespace) -> int:
    began, began_cpu = time.monotonic(), time.process_time()  # after the imports: the measured phase
    print(BEGIN, flush=True)  # the bench takes the other processes' CPU from here to END
    client = await pc.connect(args.address)
    runs = AgentClient(client, args.queue)
    starter = {"Authorization": f"Bearer {os.environ['BENCH_APP_TOKEN']}"}
    approver = {"Authorization": f"Bearer {os.environ['BENCH_APPROVER_TOKEN']}"}
    limits = httpx.Limits(max_connections=args.subscribers + 50)
    async with httpx.AsyncClient(base_url=args.api, headers=starter, timeout=None, limits=limits) as http:
        # A run's readers connect as soon as its POST returns, as an application's would: readers
        # who connect late would count the items published before them as delayed.
        sse: dict[int, asyncio.Task[Reading]] = {}  # by subscriber: subscriber i reads run i % runs
        cli: list[asyncio.Task[Reading]] = []
        run_ids: list[str] = []
        for n in range(args.runs):
            body = {"task": TASK, "user": "bench", "agent": DEMO.name}
            key = {"Idempotency-Key": f"sse-{n}-{args.queue}"}
            run_id = (await http.post("/v1/runs", json=body, headers=key)).json()["run_id"]
            run_ids.append(run_id)
            for i in range(n, args.subscribers, args.runs):
                sse[i] = asyncio.create_task(subscribe(http, run_id, approver if i < args.runs else None))
            if n * args.cli_runs % args.runs < args.cli_runs:  # spread evenly over the runs
                cli.append(asyncio.create_task(cli_follow(runs, run_id)))
        await asyncio.gather(*sse.values(), *cli)
    cpu_s, wall_s = time.process_time() - began_cpu, time.monotonic() - began
    print(END, flush=True)
    logs = [await final_log(runs, run_id) for run_id in run_ids]  # after the measured phase
    document = {
        "sse": [vars(sse[i].result()) for i in sorted(sse)],
        "cli": [vars(t.result()) for t in cli],
        "logs": logs,
        "cpu_s": cpu_s,
        "wall_s": wall_s,
    }
    json.dump(document, sys.stdout)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.api_sse_clients")
    parser.add_argument("address")
    parser.add_argument("queue")
    parser.add_argument("api")
    parser.add_argument("--runs", type=pc.positive, required=True)
    parser.add_argument("--subscribers", type=pc.positive, required=True)
    parser.add_argument("--cli-runs", type=non_negative, required=True, help="runs with a CLI follower")
    return parser.parse_args(argv)


def readings(document: dict[str, Any]) -> tuple[list[Reading], list[Reading], list[list[int]]]:
    def of(raw: dict[str, Any]) -> Reading:
        reading = Reading()
        reading.__dict__.update(raw)
        return reading

    return [of(r) for r in document["sse"]], [of(r) for r in document["cli"]], document["logs"]


if __name__ == "__main__":
    entry.run(amain, parse_args(), level="ERROR")
