"""Rate-limit benchmark (issue 18): 3 worker processes, N runs, one fake provider with quotas; the same
runs without and with the fleet limiter, in one invocation.

    python -m bench.ratelimit [--runs 100] [--workers 3] [--rpm 60] [--tpm 20000] [--max-output-tokens 128]
        [--kill-at 0.4] [--ceiling-s 10] [--out bench/results/ratelimit.json]

The provider (bench/fake_provider.py, in this process, fresh for each arm) enforces rpm and tpm over a
rolling minute and answers 429 with Retry-After beyond. Workers are `worker.main()` processes serving
the bench agent (two model calls a run) against it; with the limiter they get AGENT_RATE_LIMITS for the
provider's own quotas. In the limiter arm one worker is SIGKILLed when `--kill-at` of the runs are done
and started again: the limiter's state (its leases) must carry on. Printed per arm: 429s (share of
calls), seconds lost to them (their Retry-After), throughput (calls and tokens admitted in
each whole minute from the first call) as a fraction of the binding quota; then the limiter's ceiling
(leases per second one limiter grants on this machine). Exit 1 when the limiter arm misses ≤ 1 % 429s
or ≥ 0.9× throughput, or its state reset.
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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client

from bench import entry
from bench.chaos_cluster import Server, WorkerPool
from bench.fake_limits import WindowLimits
from bench.fake_provider import FakeProvider, Latency
from bench.limiter_ceiling import ceiling
from bench.options import positive
from bench.tasks import BenchPolicy, make_tasks
from core.client import deployment_converter
from core.config import Settings
from core.models import AgentRequest, ModelSettings
from workflows.agent import AgentWorkflow
from workflows.rate_limiter import RateLimiterWorkflow, limiter_id

MODEL = "acme-bench"


@dataclass
class Recorded:
    """The provider's quota, recording what it admitted (time, tokens) and refused (Retry-After)."""

    inner: WindowLimits
    admitted: list[tuple[float, int]] = field(default_factory=list)
    refused: list[float] = field(default_factory=list)
    refused_at: list[float] = field(default_factory=list)

    def admit(self, tokens: int, now: float) -> float | None:
        wait = self.inner.admit(tokens, now)
        if wait is None:
            self.admitted.append((now, tokens))
        else:
            self.refused.append(float(max(1, -(-wait // 1))))  # the Retry-After sent: whole seconds
            self.refused_at.append(now)
        return wait


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ratelimit", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=positive, default=100)
    parser.add_argument("--workers", type=positive, default=3)
    parser.add_argument("--rpm", type=positive, default=60)
    parser.add_argument("--tpm", type=positive, default=20_000)
    parser.add_argument("--max-output-tokens", type=positive, default=128)
    parser.add_argument(
        "--kill-at", type=float, default=0.4, help="share of runs done when a worker is killed"
    )
    parser.add_argument(
        "--ceiling-s", type=float, default=10.0, help="seconds of the ceiling probe (0: skip)"
    )
    parser.add_argument("--arms", default="off,on", help="which arms: off (no limiter), on, or both")
    parser.add_argument("--out", type=Path, default=Path("bench/results/ratelimit.json"))
    args = parser.parse_args(argv)
    if not 0.0 < args.kill_at < 1.0:
        parser.error("--kill-at must be in (0, 1)")
    args.arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    if not args.arms or set(args.arms) - {"off", "on"}:
        parser.error("--arms must list off and/or on")
    return args


def worker_env(server: Server, base_url: str, root: Path, queue: str, limits: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_", "LLM_", "TEMPORAL_"))}
    env |= {
        "LLM_PROVIDER": "openai", "LLM_BASE_URL": base_url, "LLM_MODEL": MODEL, "LLM_PRICE": "0.20/0.80",
        "AGENT_APPS": "bench.agents:BENCH", "AGENT_DATA_DIR": str(root / "data"), "AGENT_TASK_QUEUE": queue,
        "TEMPORAL_ADDRESS": server.address, "AGENT_LOG_LEVEL": "warning", "AGENT_SKIP_LOCAL_MODEL": "1",
    }  # fmt: skip
    if limits:
        env["AGENT_RATE_LIMITS"] = limits
    return env


READY_S = 90.0
PROGRESS_S = 15.0  # a line of progress this often while an arm runs


async def wait_ready(pool: WorkerPool, root: Path) -> None:
    started = time.monotonic()
    while not all((root / f"worker-{slot}.ready").exists() for slot in range(pool.size)):
        if time.monotonic() - started > READY_S:
            raise RuntimeError(f"workers not ready after {READY_S} s; see {root}/worker-*.log")
        await asyncio.sleep(0.2)


async def run_arm(client: Client, server: Server, args: argparse.Namespace, limited: bool) -> dict[str, Any]:
    quota = Recorded(WindowLimits(args.rpm, args.tpm))
    provider = FakeProvider(MODEL, Latency(base_s=0.2), quota, policy=BenchPolicy())
    await provider.start()
    root = Path(tempfile.mkdtemp(prefix=f"ratelimit-{'on' if limited else 'off'}-"))
    queue = f"rl-{uuid.uuid4().hex[:6]}"
    limits = f"{MODEL}={args.rpm}rpm,{args.tpm}tpm" if limited else None
    pool = WorkerPool(root, args.workers, worker_env(server, provider.base_url, root, queue, limits))
    pool.start_all()
    kill: dict[str, Any] = {}
    try:
        await wait_ready(pool, root)
        started = time.monotonic()
        settings = ModelSettings(max_output_tokens=args.max_output_tokens)
        handles = [
            await client.start_workflow(
                AgentWorkflow.run,
                AgentRequest(task=task.prompt, agent="bench", user_id="bench", model=settings),
                id=f"{queue}-{task.task_id}",
                task_queue=queue,
            )
            for task in make_tasks(args.runs, 42)
        ]
        pending = {asyncio.ensure_future(h.result()) for h in handles}
        ended: list[str] = []
        shown = started
        while pending:
            finished, pending = await asyncio.wait(pending, timeout=1.0)
            ended += [_status(f) for f in finished]
            done_count = len(ended)
            if time.monotonic() - shown >= PROGRESS_S:
                shown = time.monotonic()
                answered, refused = len(quota.admitted), len(quota.refused)
                at = f"{shown - started:.0f} s: {done_count}/{args.runs} runs ended"
                print(f"  {at}, {answered} calls answered, {refused} 429s", flush=True)
            if limited and not kill and done_count >= args.kill_at * args.runs:
                kill = await kill_and_revive(client, pool, root)
        wall_s = time.monotonic() - started
        state = await limiter_state(client) if limited else None  # while a worker still serves it
    finally:
        pool.stop()
        await provider.close()
    return figures(quota, args, wall_s, limited, kill, state) | {"runs": dict(Counter(ended))}


def _status(done: asyncio.Future[Any]) -> str:
    if done.exception() is not None:
        return f"workflow {type(done.exception()).__name__}"
    return str(done.result().status.value)


async def limiter_state(client: Client) -> dict[str, Any]:
    handle = client.get_workflow_handle(limiter_id(MODEL))
    state = await handle.query(RateLimiterWorkflow.state)
    return state.model_dump(mode="json")


async def kill_and_revive(client: Client, pool: WorkerPool, root: Path) -> dict[str, Any]:
    """SIGKILL worker 0 mid-run, start it again; the limiter's leases before and after."""
    before = await limiter_state(client)
    pid = pool.kill(0, "ratelimit bench")
    killed_at = time.monotonic()
    (root / "worker-0.ready").unlink(missing_ok=True)
    pool.start(0)
    await wait_ready(pool, root)
    after = await limiter_state(client)
    print(f"  killed worker pid {pid}; limiter leases {before['leases']} → {after['leases']} after restart")
    return {
        "pid": pid,
        "at": killed_at,
        "leases_before": before["leases"],
        "leases_after_restart": after["leases"],
    }


def full_minutes_share(times: list[float], weights: list[int], limit: int) -> float | None:
    """What the provider admitted in the whole minutes from the first call, as a share of what its
    quota admits in them (`limit` a minute); None when the run lasted under a minute. The minute the
    last calls fall in is left out: demand, not the quota, ends it."""
    if not times:
        return None
    minutes = int((times[-1] - times[0]) // 60)
    if minutes == 0:
        return None
    end = times[0] + 60.0 * minutes
    return sum(w for at, w in zip(times, weights, strict=True) if at < end) / (limit * minutes)


def figures(
    quota: Recorded, args: argparse.Namespace, wall_s: float, limited: bool, kill: dict[str, Any], state: Any
) -> dict[str, Any]:
    times = [at for at, _ in quota.admitted]
    calls = len(quota.admitted) + len(quota.refused)
    rpm_share = full_minutes_share(times, [1] * len(times), args.rpm)
    tpm_share = full_minutes_share(times, [t for _, t in quota.admitted], args.tpm)
    shares = [r for r in (rpm_share, tpm_share) if r is not None]
    return {
        "limiter": limited,
        "calls": calls,
        "answered": len(quota.admitted),
        "status_429": len(quota.refused),
        "share_429": len(quota.refused) / max(1, calls),
        "seconds_lost_to_429": sum(quota.refused),
        "wall_s": round(wall_s, 1),
        "share_of_rpm": rpm_share,
        "share_of_tpm": tpm_share,
        "throughput_of_limit": max(shares) if shares else None,  # of the binding quota
        "kill": kill,
        # A limiter that forgot its minute at the kill would let a burst through: 429s right after it.
        "status_429_in_the_minute_after_the_kill": (
            sum(kill["at"] <= at < kill["at"] + 60 for at in quota.refused_at) if kill else None
        ),
        "limiter_state": state,
    }


def report(arms: list[dict[str, Any]], tops: list[dict[str, Any]]) -> tuple[bool, list[str]]:
    head = "| arm | runs | calls | 429s | share 429 | s lost to 429 | of rpm | of tpm | × limit | s |"
    lines = [head, "|---" * 10 + "|"]
    for a in arms:
        cells = [
            "with limiter" if a["limiter"] else "without",
            ", ".join(f"{k} {v}" for k, v in a["runs"].items()), a["calls"], a["status_429"],
            f"{a['share_429']:.1%}",
            f"{a['seconds_lost_to_429']:.0f}",
            f"{a['share_of_rpm'] or 0:.2f}", f"{a['share_of_tpm'] or 0:.2f}",
            f"{a['throughput_of_limit'] or 0:.2f}", a["wall_s"],
        ]  # fmt: skip
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    on = next((a for a in arms if a["limiter"]), None)
    if on is None:
        return True, [*lines, "(no limiter arm run)"]
    kill = on["kill"]
    kept = bool(kill) and kill["leases_after_restart"] >= kill["leases_before"]
    ok = on["share_429"] <= 0.01 and (on["throughput_of_limit"] or 0) >= 0.9 and kept
    if kill:
        lines.append(
            f"worker killed mid-run: limiter leases {kill['leases_before']} at the kill, "
            f"{kill['leases_after_restart']} after its restart, {on['limiter_state']['leases']} at the end; "
            f"429s in the minute after the kill: {on['status_429_in_the_minute_after_the_kill']}"
        )
    lines += [f"limiter ceiling: {t['leases_per_s']:.0f} leases/s, {t['shards']} shard(s)" for t in tops]
    lines.append(
        ("PASS" if ok else "FAIL") + ": limiter arm ≤ 1 % 429, ≥ 0.9× the limit, state kept over a kill"
    )
    return ok, lines


async def amain(args: argparse.Namespace) -> int:
    server = Server(Path(tempfile.mkdtemp(prefix="ratelimit-server-")))
    server.start()
    try:
        client = await Client.connect(
            server.address, data_converter=deployment_converter(Settings.from_env())
        )
        arms = []
        for limited in (arm == "on" for arm in args.arms):
            print(
                f"… {args.runs} runs, {args.workers} workers, {'with' if limited else 'without'} the limiter",
                flush=True,
            )
            arms.append(await run_arm(client, server, args, limited))
        tops = [await ceiling(client, n, args.ceiling_s) for n in (1, 4)] if args.ceiling_s > 0 else []
    finally:
        server.stop()
    ok, lines = report(arms, tops)
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"options": {k: str(v) for k, v in vars(args).items()}, "arms": arms, "ceiling": tops}, indent=1
        )
    )
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> None:
    entry.run(amain, parse_args(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
