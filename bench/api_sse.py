"""SSE at scale (issue 15): many subscribers of many runs through the HTTP API, next to the CLI's
query polling measured in the same run.

    python -m bench.api_sse [--runs 50] [--subscribers 200] [--llm-ms 300] [--tiny]

Each run is bench.progress's refund case (lookups, a refund that waits for an approval, an answer);
the first subscriber of a run approves it through POST /v1/runs/{id}/decisions when it sees the
approval wait. Subscribers read /v1/runs/{id}/events from a real uvicorn server in this process; one
CLI follower per run (cli.runs.follow) polls the `progress` query as `starter.py run` does. Delay =
arrival minus the event's workflow timestamp. Lost and duplicated events are counted against the
run's own log (both must be 0). Exit 1 when a run fails or an event is lost or repeated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import httpx
import uvicorn

from agents.merchant_support import AGENT as DEMO
from agents.merchant_support import Store
from api import Service, TokenStore, create_app
from bench import entry
from bench import perf_common as pc
from bench.progress import TASK, book
from cli import runs as cli_runs
from client import AgentClient
from core.models import RunState
from core.progress import ProgressEvent
from worker import build_worker

TARGET_P95_S = 0.5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.api_sse", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=pc.positive, default=50)
    parser.add_argument("--subscribers", type=pc.positive, default=200, help="spread over the runs")
    parser.add_argument("--llm-ms", type=pc.positive, default=300, help="scripted model latency")
    parser.add_argument("--tiny", action="store_true", help="4 runs, 8 subscribers (for tests)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.runs, args.subscribers = 4, 8
    return args


class Tally:
    def __init__(self) -> None:
        self.sse: list[float] = []
        self.cli: list[float] = []
        self.lost = self.repeated = self.failed = 0


def _delay(event_at: datetime) -> float:
    return (datetime.now(UTC) - event_at).total_seconds()


async def subscribe(http: httpx.AsyncClient, run_id: str, approver: bool, tally: Tally) -> list[int]:
    """Read one run's stream to its result: the ids seen, in order."""
    seen: list[int] = []
    async with http.stream("GET", f"/v1/runs/{run_id}/events") as response:
        event, data = "", ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and event:
                if event != "progress":
                    tally.failed += json.loads(data).get("status") != RunState.COMPLETED
                    return seen
                item = ProgressEvent.model_validate_json(data)
                tally.sse.append(_delay(item.at))
                seen.append(item.seq)
                if approver and item.kind == "approval.waiting":
                    APPROVALS.add(asyncio.create_task(approve(http, run_id)))
                event = ""
    tally.failed += 1  # the stream ended without a result
    return seen


async def approve(http: httpx.AsyncClient, run_id: str) -> None:
    view = (await http.get(f"/v1/runs/{run_id}")).json()
    for item in view.get("pending", []):
        body = {"call_id": item["call_id"], "verdict": "approve", "args_sha256": item["args_sha256"]}
        # Request headers replace the client's of the same name: the approver's token, not the app's.
        await http.post(f"/v1/runs/{run_id}/decisions", json=body, headers=APPROVER)


APPROVER: dict[str, str] = {}
APPROVALS: set[asyncio.Task[None]] = set()  # referenced until the bench ends


async def measure(args: argparse.Namespace, client: Any, tmp: Path) -> int:
    queue, port = f"sse-{uuid.uuid4().hex[:6]}", pc._free_port()
    store = await Store.open_async(tmp)
    tokens = TokenStore(tmp / "api.db")
    starter = {"Authorization": f"Bearer {tokens.mint('bench-app', [])[1]}"}
    APPROVER["Authorization"] = f"Bearer {tokens.mint('bench-approver', ['approver'])[1]}"
    runs = AgentClient(client, queue)
    service = Service(runs, tokens, {DEMO.name: DEMO}, "http://ui.invalid", "default")
    server = uvicorn.Server(uvicorn.Config(create_app(service), port=port, log_level="error", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    tally = Tally()
    provider = pc.scripted_provider(book(args.llm_ms / 1000))
    limits = httpx.Limits(max_connections=args.subscribers + 50)
    async with (
        build_worker(client, queue, [DEMO], provider, {DEMO.name: store}),
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=starter, timeout=None, limits=limits
        ) as http,
    ):
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to await)
            await asyncio.sleep(0.05)
        ids = []
        for n in range(args.runs):
            body = {"task": TASK, "user": "bench", "agent": DEMO.name}
            started = await http.post("/v1/runs", json=body, headers={"Idempotency-Key": f"sse-{n}-{queue}"})
            ids.append(started.json()["run_id"])
        subscribers = [
            subscribe(http, ids[i % args.runs], i < args.runs, tally) for i in range(args.subscribers)
        ]
        followers = [cli_follow(runs, run_id, tally) for run_id in ids]
        everyone = await asyncio.gather(*subscribers, *followers)
        seen, logged = everyone[: args.subscribers], everyone[args.subscribers :]
    server.should_exit = True
    await serving
    for i, got in enumerate(seen):
        expected = logged[i % args.runs]
        tally.lost += len(set(expected) - set(got))
        tally.repeated += len(got) - len(set(got)) + (got != sorted(got))
    return report(args, tally)


async def cli_follow(runs: AgentClient, run_id: str, tally: Tally) -> list[int]:
    seqs: list[int] = []

    def observe(event: ProgressEvent, shown: datetime) -> None:
        tally.cli.append((shown - event.at).total_seconds())
        seqs.append(event.seq)

    await cli_runs.follow(runs.handle(run_id), lambda _line: None, observe=observe)
    return seqs


def report(args: argparse.Namespace, tally: Tally) -> int:
    def row(name: str, values: list[float]) -> list[object]:
        p50, p95 = pc.percentile(values, 0.5) * 1000, pc.percentile(values, 0.95) * 1000
        return [name, len(values), f"{p50:.0f}", f"{p95:.0f}"]

    load = pc.load_average()
    print(f"SSE: {args.subscribers} subscribers on {args.runs} runs, model {args.llm_ms} ms; load {load}")
    poll = f"CLI query poll every {cli_runs.POLL_SECONDS * 1000:.0f} ms"
    rows = [row("SSE, one shared feed per run", tally.sse), row(poll, tally.cli)]
    print("\n".join(pc.table(["follower", "events", "p50 ms", "p95 ms"], rows)))
    p95 = pc.percentile(tally.sse, 0.95)
    verdict = "met" if p95 <= TARGET_P95_S else "NOT met"
    print(f"SSE p95 {p95 * 1000:.0f} ms (target <= {TARGET_P95_S * 1000:.0f} ms: {verdict})")
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
            return await measure(args, server.client, Path(tmp))
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> NoReturn:
    entry.run(amain, parse_args(argv), level="ERROR")


if __name__ == "__main__":
    main()
