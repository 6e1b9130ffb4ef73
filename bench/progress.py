"""Live-progress latency (issue 6): how long after a step happens does `run` show it?

    python -m bench.progress [--runs 20] [--concurrency 4] [--llm-ms 300] [--address HOST:PORT] [--tiny]

Each run is the refund case end to end on the demo tools (SQLite): a lookup turn, a refund that waits
for an approval (given by the follower as soon as it sees it), an answer; the scripted model takes
llm-ms per call. Runs are followed with the CLI's own `follow` (the `progress` query, polled every
cli.runs.POLL_SECONDS); latency = when the line was shown minus the event's workflow timestamp.
Prints p50/p95/max per event kind and overall, and counts events shown twice (must be 0). Exit 1
when the server cannot be reached or a run fails, 2 on bad options.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

from temporalio.client import WorkflowHandle

from activities.llm.scripted import ScriptBook, ScriptedReply, ScriptedToolCall
from agents.merchant_support import AGENT as DEMO
from agents.merchant_support import Store
from bench import entry
from bench import perf_common as pc
from cli import runs
from core.models import AgentRequest, ApproveSignal, PendingApproval, RunState
from core.progress import ProgressEvent
from worker import build_worker
from workflows.agent import AgentWorkflow

TASK = "[progress] pay_ABC123 was charged twice for merchant MID001; refund the duplicate"
TARGET_MS = 1000.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.progress", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=pc.positive, default=20, help="runs followed (20)")
    parser.add_argument("--concurrency", type=pc.positive, default=4, help="runs followed at once (4)")
    parser.add_argument("--llm-ms", type=pc.positive, default=300, help="scripted model latency (300)")
    parser.add_argument("--address", help="an existing Temporal server (default: start one)")
    parser.add_argument("--tiny", action="store_true", help="2 runs (for tests)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.runs, args.concurrency = 2, 2
    return args


def book(llm_s: float) -> ScriptBook:
    def call(name: str, **arguments: Any) -> ScriptedToolCall:
        return ScriptedToolCall(name=name, arguments=arguments)

    refund = call(
        "initiate_refund", transaction_id="pay_ABC124", amount="49.99", currency="USD", reason="duplicate"
    )
    lookups = [
        call("get_transaction", transaction_id="pay_ABC123"),
        call("get_merchant_account", merchant_id="MID001"),
    ]
    script = [
        ScriptedReply(content="Looking it up.", tool_calls=lookups, delay_s=llm_s),
        ScriptedReply(content="Refunding the duplicate.", tool_calls=[refund], delay_s=llm_s),
        ScriptedReply(content="Refunded re_ on pay_ABC124 (49.99 USD).", delay_s=llm_s),
    ]
    return ScriptBook({"[progress]": script})


async def approve(handle: WorkflowHandle[Any, Any], item: PendingApproval) -> None:
    signal = ApproveSignal(call_id=item.call_id, approver="bench", args_sha256=item.args_sha256)
    await handle.signal(AgentWorkflow.approve, signal)


async def follow_one(client: Any, queue: str, latencies: dict[str, list[float]]) -> tuple[bool, int]:
    """One run followed to its end: (completed, events shown twice)."""
    seen: set[tuple[int, int]] = set()
    twice = 0

    def observe(event: ProgressEvent, shown: datetime) -> None:
        nonlocal twice
        key = (event.seq, event.turn)
        twice += key in seen
        seen.add(key)
        latencies[event.kind.value].append((shown - event.at).total_seconds() * 1000)

    handle = await client.start_workflow(
        AgentWorkflow.run,
        AgentRequest(task=TASK, user_id="bench"),
        id=f"progress-{uuid.uuid4().hex[:10]}",
        task_queue=queue,
    )
    result = await runs.follow(handle, lambda _line: None, on_pending=approve, observe=observe)
    return result.status == RunState.COMPLETED, twice


async def measure(client: Any, args: argparse.Namespace) -> int:
    latencies: dict[str, list[float]] = defaultdict(list)
    queue = f"progress-{uuid.uuid4().hex[:6]}"
    provider = pc.scripted_provider(book(args.llm_ms / 1000))
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open_async(Path(tmp))
        async with build_worker(client, queue, [DEMO], provider, {DEMO.name: store}):
            gate = asyncio.Semaphore(args.concurrency)

            async def bounded() -> tuple[bool, int]:
                async with gate:
                    return await follow_one(client, queue, latencies)

            outcomes = await asyncio.gather(*(bounded() for _ in range(args.runs)))
    failed = sum(not ok for ok, _ in outcomes)
    twice = sum(n for _, n in outcomes)
    report(latencies, args, failed, twice)
    return 1 if failed else 0


def report(latencies: dict[str, list[float]], args: argparse.Namespace, failed: int, twice: int) -> None:
    every = [v for values in latencies.values() for v in values]

    def row(name: str, values: list[float]) -> list[object]:
        p50, p95 = pc.percentile(values, 0.5), pc.percentile(values, 0.95)
        return [name, len(values), f"{p50:.0f}", f"{p95:.0f}", f"{max(values, default=0):.0f}"]

    rows = [row(kind, values) for kind, values in sorted(latencies.items())] + [row("all", every)]
    print(
        f"live progress: {args.runs} runs, {args.concurrency} at once, model {args.llm_ms} ms, "
        f"poll every {runs.POLL_SECONDS * 1000:.0f} ms; load {pc.load_average()}"
    )
    print("\n".join(pc.table(["event", "n", "p50 ms", "p95 ms", "max ms"], rows)))
    p95 = pc.percentile(every, 0.95)
    verdict = "met" if p95 <= TARGET_MS else "NOT met"
    print(f"p95 {p95:.0f} ms (target <= {TARGET_MS:.0f} ms: {verdict})")
    print(f"events shown twice: {twice}; failed runs: {failed}")


async def amain(args: argparse.Namespace) -> int:
    try:
        if args.address:
            return await measure(await pc.connect(args.address), args)
        server = await pc.start_server("tuned", pc.TUNED)
        try:
            return await measure(server.client, args)
        finally:
            server.stop()
    except pc.Unreachable as exc:
        print(f"bench.progress: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> NoReturn:
    # The refusals of later runs (one duplicate to refund) are expected.
    entry.run(amain, parse_args(argv), level="ERROR")


if __name__ == "__main__":
    main()
