"""One run, one worker, a hosted model that answers in 20 s; the worker is SIGKILLed during a model call.

    python -m bench.slow_kill [--latency-s 20] [--kill-turn 2] [--kill-after-s 5] [--target-s 40]

The set-up of issue 13: a dev server, the fake provider (bench/fake_provider.py) and ONE worker. A run
is started as `starter.py run` starts one; while its `llm.complete` of --kill-turn is in flight (the
provider has the request, Temporal names the worker that started it) that worker is SIGKILLed and a
new one started at once. The task takes two model calls, so by default the kill lands in the last.
Prints each step as it happens, then the seconds from the restart to the run's completion. Exit 0
when that is within --target-s, 1 otherwise, 2 on bad options. --before schedules `llm.complete`
without its heartbeat timeout, as before heartbeats, and only reports the figure (about 5 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from bench.chaos_cluster import Provider, Server, WorkerPool, worker_env
from bench.entry import run as run_bench
from bench.slow_calls import HeldCall, call_end, held_call
from cli.runs import build_request, start
from core.client import connect
from core.config import Settings

TASK = "What is the status of payment pay_ABC125 for merchant MID001?"  # two model calls, no approval
POLL_S = 0.2


@dataclass
class Say:
    """Progress lines stamped with the seconds since the bench began."""

    began: float = field(default_factory=time.monotonic)

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.began:6.1f} s] {message}", flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.slow_kill", description=__doc__.split("\n")[0])
    parser.add_argument("--latency-s", type=float, default=20.0, help="seconds every model call takes")
    parser.add_argument("--kill-turn", type=int, default=2, help="the model call to kill in (1 or 2)")
    parser.add_argument("--kill-after-s", type=float, default=5.0, help="seconds into that call")
    parser.add_argument("--target-s", type=float, default=40.0, help="restart to completion, at most")
    parser.add_argument("--deadline", type=float, default=600.0, help="give up this long after the restart")
    parser.add_argument(
        "--before", action="store_true", help="llm.complete without its heartbeat timeout (~5 min; no target)"
    )
    args = parser.parse_args(argv)
    problems = [
        "--latency-s must be > 0" * (not args.latency_s > 0),
        "--kill-turn must be 1 or 2" * (args.kill_turn not in (1, 2)),
        "--kill-after-s must be in [0, --latency-s - 1]" * (not 0 <= args.kill_after_s <= args.latency_s - 1),
        "--target-s must be > 0" * (not args.target_s > 0),
        "--deadline must be > --target-s" * (not args.deadline > args.target_s),
    ]
    if any(problems):
        parser.error("; ".join(p for p in problems if p))
    return args


async def wait_for_call(
    handle: WorkflowHandle[Any, Any], provider: Provider, args: argparse.Namespace, say: Say
) -> HeldCall:
    """Until the provider has been answering the call of --kill-turn for --kill-after-s seconds."""
    seen: set[int] = set()
    while True:
        for call in (await provider.state())["inflight"]:
            if call["turn"] not in seen:
                seen.add(call["turn"])
                say(f"turn {call['turn']}: llm.complete in flight ({call['latency_s']:g} s to answer)")
            if call["turn"] == args.kill_turn and call["age_s"] >= args.kill_after_s:
                held = await held_call(handle)
                if held is not None:
                    return held
        await asyncio.sleep(POLL_S)


async def watch(handle: WorkflowHandle[Any, Any], say: Say, restarted: float, deadline: float) -> bool:
    """Print the run's pending activities as they change until it ends; False at the deadline."""
    last: list[str] | None = None
    while time.monotonic() - restarted < deadline:
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            return True
        now = [_pending_text(a) for a in description.raw_description.pending_activities]
        if now != last:
            since = time.monotonic() - restarted
            say(f"  {'; '.join(now) or 'no activity pending'}  ({since:.1f} s after the restart)")
            last = now
        await asyncio.sleep(POLL_S)
    return False


def _pending_text(info: Any) -> str:
    state = PendingActivityState.Name(info.state).removeprefix("PENDING_ACTIVITY_STATE_").lower()
    text = f"{info.activity_type.name} attempt {info.attempt} {state}"
    if info.last_worker_identity:
        text += f" by {info.last_worker_identity}"
    if info.HasField("last_failure"):
        text += f" (attempt {info.attempt - 1}: {info.last_failure.message})"
    return text


@asynccontextmanager
async def cluster(
    root: Path, args: argparse.Namespace, say: Say
) -> AsyncIterator[tuple[WorkerPool, Provider, Settings]]:
    """A dev server, the fake provider answering in --latency-s, and one worker that polls."""
    server, data_dir, queue = Server(root), root / "data", f"slow-kill-{uuid.uuid4().hex[:6]}"
    provider = Provider(root, ["--latency-s", str(args.latency_s)])
    env = worker_env(server, provider, data_dir, queue, 0.0, root / "events.log")
    if args.before:  # the schedule of llm.complete before heartbeats (see bench/chaos_worker.py)
        env |= {"CHAOS_NO_HEARTBEAT_TIMEOUT": "1", "AGENT_WORKFLOW_RUNNER": "unsandboxed"}
    pool = WorkerPool(root, 1, env)
    try:
        say(f"dev server up ({server.start():.1f} s)")
        provider.start()
        pool.start_all()
        while not (root / "worker-0.ready").exists():
            if not pool.alive():
                raise RuntimeError(f"the worker died at start; see {root / 'worker-0.log'}")
            await asyncio.sleep(POLL_S)
        say(f"worker pid {pool.procs[0].pid} polls {queue}; the model answers in {args.latency_s:g} s")
        yield pool, provider, Settings(temporal_address=server.address, task_queue=queue, data_dir=data_dir)
    finally:
        pool.stop()
        provider.stop()
        server.stop()


async def measure(args: argparse.Namespace, root: Path, say: Say) -> int:
    async with cluster(root, args, say) as (pool, provider, settings):
        client = await connect(settings)
        handle = await start(
            client, settings, build_request(TASK, "slow-kill"), f"slow-kill-{uuid.uuid4().hex[:6]}"
        )
        say(f"run {handle.id} started: {TASK!r}")
        held = await wait_for_call(handle, provider, args, say)
        killed_at, pid = time.time(), pool.kill(0)
        pool.revive()
        restarted = time.monotonic()
        restarted_at, new_pid = time.time(), pool.procs[0].pid
        say(
            f"SIGKILLed worker pid {pid} (it held llm.complete attempt {held.attempt}); started pid {new_pid}"
        )
        if not await watch(handle, say, restarted, args.deadline):
            say(f"FAIL: the run had not ended {args.deadline:g} s after the restart")
            return 1
        result, closed = await handle.result(), (await handle.describe()).close_time
        to_done = (closed.timestamp() if closed else time.time()) - restarted_at
        say(f"run ended: {result.status.value}")
        return await verdict(args, client, held, killed_at, to_done, result.status.value)


async def verdict(
    args: argparse.Namespace, client: Client, held: HeldCall, killed_at: float, to_done: float, status: str
) -> int:
    end = await call_end(client, held)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\nslow-call kill: model latency {args.latency_s:g} s, killed {args.kill_after_s:g} s into turn "
        f"{args.kill_turn}'s llm.complete (load average {load})"
    )
    if end is not None:
        print(
            f"  interrupted call completed  {end.completed_at - killed_at:6.1f} s after the kill "
            f"(attempt {end.attempt}, worker {end.identity})"
        )
    if args.before:
        print(f"  run {status:<22} {to_done:6.1f} s after the restart (before: no heartbeat timeout)")
        return 0 if status == "completed" else 1
    ok = status == "completed" and to_done <= args.target_s
    print(f"  run {status:<22} {to_done:6.1f} s after the restart (target <= {args.target_s:g} s)")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


async def amain(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="slow-kill-") as tmp:
        try:
            return await measure(args, Path(tmp), Say())
        except RuntimeError as exc:
            print(f"slow_kill: {exc}")
            return 1


if __name__ == "__main__":
    run_bench(amain, parse_args(None))
