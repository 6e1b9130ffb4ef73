"""Overhead benchmark (issue 8): what one agent turn costs next to the bare Temporal steps it consists of.

    python -m bench.overhead [--turns 20] [--reps 7] [--replay-turns 100] [--address HOST:PORT] [--tiny]

One run of this bench, one process: (a) a bare workflow of 2K+1 no-op activities, (b) the same as local
activities, (c) AgentWorkflow doing K tool turns and one answer turn (2K+1 activities) with a zero-latency
scripted model and a no-op tool, (d) the same loop in plain asyncio without Temporal, (e) (a) with the
tool steps as local activities, the command mix of (c) since the perf tools are local; then the time to
replay a long agent history. Without --address, two dev servers are started, the tuned one
(bench/perf_common.TUNED) and one with defaults, and (a) and (c) run on both. Exit 1 when no server can
be reached, 2 on bad options.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, NoReturn

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from agents.merchant_support import Store
from bench import entry
from bench import perf_common as pc
from bench.agents import PERF
from bench.noop_tools import NOOP_TOOLS, REGISTRY
from core.models import ChatMessage, LlmRequest, RunState
from core.served import Served, for_replay
from core.toolspec import ToolContext
from core.worker_options import worker_options
from worker import build_worker
from workflows.agent import AgentWorkflow

Timer = Callable[[], Awaitable[float]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=pc.positive, default=20, help="K: tool turns per agent run (20)")
    parser.add_argument("--reps", type=pc.positive, default=7, help="repetitions per variant (7)")
    parser.add_argument("--replay-turns", type=pc.positive, default=100, help="turns of the replayed history")
    parser.add_argument("--address", help="an existing Temporal server (default: start two local ones)")
    parser.add_argument("--tiny", action="store_true", help="K=2, 1 repetition, 3-turn replay (for tests)")
    args = parser.parse_args(argv)
    if args.tiny:
        args.turns, args.reps, args.replay_turns = 2, 1, 3
    return args


class Rig:
    """An agent worker and a bare worker on one server, in this process."""

    def __init__(self, client: Client, store: Store, turns: int, replay_turns: int) -> None:
        self.client, self.turns, self.tag = client, turns, uuid.uuid4().hex[:6]
        self.agent_queue, self.bare_queue = f"perf-agent-{self.tag}", f"perf-bare-{self.tag}"
        book = pc.perf_book([turns, replay_turns], 0.0, NOOP_TOOLS)
        self.provider = pc.scripted_provider(book)
        self.store = store
        self._n = 0

    def workers(self) -> list[Worker]:
        """Both with the production worker options (core/worker_options.py): same runner, same cache."""
        options = worker_options()
        bare = Worker(
            self.client,
            task_queue=self.bare_queue,
            workflows=[pc.BareWorkflow],
            activities=[pc.perf_step],
            **options,
        )
        agent = build_worker(self.client, self.agent_queue, [PERF], self.provider, {}, **options)
        return [agent, bare]

    def _id(self, kind: str) -> str:
        self._n += 1
        return f"perf-{kind}-{self.tag}-{self._n}"

    async def bare(
        self, local: bool, turns: int | None = None, workflow_id: str | None = None, tool_local: bool = False
    ) -> float:
        started = time.perf_counter()
        inp = pc.BareInput(steps=2 * (turns or self.turns) + 1, local=local, tool_local=tool_local)
        wid = workflow_id or self._id("bare")
        await self.client.execute_workflow(
            "PerfBare", inp, id=wid, task_queue=self.bare_queue, result_type=int
        )
        return (time.perf_counter() - started) * 1000

    async def agent(self, turns: int | None = None, workflow_id: str | None = None) -> float:
        """One run to completion; ms from start to result. Raises unless it completed."""
        request = pc.perf_request(turns or self.turns)
        started = time.perf_counter()
        result = await self.client.execute_workflow(
            AgentWorkflow.run,
            request,
            id=workflow_id or self._id("agent"),
            task_queue=self.agent_queue,
            search_attributes=pc.perf_start_attributes(),
        )
        if result.status != RunState.COMPLETED:
            raise RuntimeError(f"agent run ended {result.status.value}: {result.answer[:200]}")
        return (time.perf_counter() - started) * 1000


async def plain_loop(turns: int) -> float:
    """(d): the same scripted model and no-op tool, called in a plain asyncio loop; ms for the run."""
    provider = pc.scripted_provider(pc.perf_book([turns], 0.0, NOOP_TOOLS))
    request, schemas = pc.perf_request(turns), REGISTRY.schemas()
    messages = [
        ChatMessage(role="system", content=PERF.instructions.text() or ""),
        ChatMessage(role="user", content=PERF.instructions.task_template.format(task=request.task)),
    ]
    started = time.perf_counter()
    for turn in range(1, turns + 2):
        llm = LlmRequest(
            workflow_id="plain", turn=turn, messages=tuple(messages), tools=schemas, prompt_version="perf"
        )
        reply = await provider.complete(llm)
        if not reply.tool_calls:
            break
        messages.append(ChatMessage(role="assistant", content=reply.content, tool_calls=reply.tool_calls))
        for call in reply.tool_calls:
            spec = REGISTRY.get(call.name)
            ctx: ToolContext[None] = ToolContext(
                workflow_id="plain", call_id=call.id, idempotency_key=f"plain:{call.id}", deps=None
            )
            result = await spec.handler(ctx, spec.validate(call.arguments))
            content = json.dumps(result.model_dump(mode="json"))
            messages.append(ChatMessage(role="tool", content=content, tool_call_id=call.id, name=call.name))
    await provider.aclose()
    return (time.perf_counter() - started) * 1000


async def repeat(timers: dict[str, Timer], reps: int) -> dict[str, list[float]]:
    """One warm-up each, then `reps` rounds with the variants interleaved, so drift hits all alike."""
    for timer in timers.values():
        await timer()
    samples: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(reps):
        for name, timer in timers.items():
            samples[name].append(await timer())
    return samples


def timers_of(rigs: dict[str, Rig], turns: int) -> dict[str, Timer]:
    """Every variant on every server, keyed `variant@server`; (b) and (d) only once."""
    timers: dict[str, Timer] = {}
    for label, rig in rigs.items():
        timers[f"a@{label}"] = lambda rig=rig: rig.bare(False)  # type: ignore[misc]
        if label == next(iter(rigs)):
            timers[f"b@{label}"] = lambda rig=rig: rig.bare(True)  # type: ignore[misc]
            timers[f"e@{label}"] = lambda rig=rig: rig.bare(False, tool_local=True)  # type: ignore[misc]
        timers[f"c@{label}"] = rig.agent
    timers["d"] = lambda: plain_loop(turns)
    return timers


async def measure(servers: dict[str, Client], store: Store, args: argparse.Namespace) -> dict[str, Any]:
    """(a)–(d) interleaved across the servers, then the replay on the first (tuned) one."""
    rigs = {label: Rig(client, store, args.turns, args.replay_turns) for label, client in servers.items()}
    async with AsyncExitStack() as stack:
        for rig in rigs.values():
            for worker in rig.workers():
                await stack.enter_async_context(worker)
        samples = await repeat(timers_of(rigs, args.turns), args.reps)
        replay = await measure_replay(next(iter(rigs.values())), args)
    for rig in rigs.values():
        await rig.provider.aclose()
    return {"samples": samples, "replay": replay}


async def replay_ms(workflow_id: str, rig: Rig, reps: int) -> tuple[int, list[float]]:
    """Events of the run's history and the ms of each of `reps` replays of it."""
    history = await rig.client.get_workflow_handle(workflow_id).fetch_history()
    # The production runner: a worker that lost a run from its cache replays it with this one.
    runner = worker_options()["workflow_runner"]
    for_replay(Served.of([PERF]))  # as worker.build_replayer: the replayed runs' agent
    replayer = Replayer(
        workflows=[AgentWorkflow, pc.BareWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=runner,
    )
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        await replayer.replay_workflow(history)
        times.append((time.perf_counter() - started) * 1000)
    return len(history.events), times


async def measure_replay(rig: Rig, args: argparse.Namespace) -> list[list[str]]:
    """Replay agent histories of K and of replay-turns turns (ms per turn shows any growth), and bare."""
    rows, reps = [], max(3, args.reps)
    for kind, turns in (("agent", args.turns), ("agent", args.replay_turns), ("bare", args.replay_turns)):
        wid = f"perf-replay-{kind}-{turns}-{rig.tag}"
        await (rig.agent(turns, wid) if kind == "agent" else rig.bare(False, turns, wid))
        events, times = await replay_ms(wid, rig, reps)
        label = (
            f"AgentWorkflow, {turns} turns" if kind == "agent" else f"bare workflow, {2 * turns + 1} steps"
        )
        per_turn = [t / turns for t in times]
        rows.append([label, str(events), pc.median_spread(times), pc.median_spread(per_turn)])
    return rows


LABELS = {
    "a": "(a) bare workflow, {steps} activities",
    "b": "(b) bare workflow, {steps} local activities",
    "c": "(c) AgentWorkflow, {turns} tool turns + answer",
    "d": "(d) plain asyncio loop, no Temporal",
    "e": "(e) bare workflow, {steps} steps, tool steps local",
}


def report(data: dict[str, Any], args: argparse.Namespace, servers: list[str]) -> list[str]:
    samples, steps = data["samples"], 2 * args.turns + 1
    med = {key: statistics.median(values) for key, values in samples.items()}
    rows = []
    for key, values in samples.items():
        variant, _, server = key.partition("@")
        per_step = [v / steps for v in values]
        label = LABELS[variant].format(steps=steps, turns=args.turns)
        rows.append(
            [
                label,
                server or "-",
                pc.median_spread(values),
                pc.median_spread(per_step),
                f"{2 * med[key] / steps:7.2f}",
            ]
        )
    main = servers[0]
    lines = [
        f"Overhead: K={args.turns} tool turns + 1 answer turn = {steps} activity steps per run; "
        f"medians of {args.reps} runs (min–max), variants interleaved; load average {pc.load_average()}",
        *pc.table(["variant", "server", "ms/run", "ms/step", "ms/turn (=2 steps)"], rows),
        "",
        f"c/a = {med[f'c@{main}'] / med[f'a@{main}']:.2f}  (per agent turn vs the 2 bare activity steps it "
        f"consists of: 1 llm.complete + 1 tool; same step count per run; target ≤ 1.2)",
        f"c/b = {med[f'c@{main}'] / med[f'b@{main}']:.2f}  (vs local activities)",
        f"c/e = {med[f'c@{main}'] / med[f'e@{main}']:.2f}  (vs bare steps of the same kinds: the perf tools "
        "are declared local, so this is our own cost per step)",
        f"c/d = {med[f'c@{main}'] / med['d']:.1f}  (vs the same loop in plain asyncio, no durability)",
    ]
    for other in servers[1:]:
        for v in "ac":
            lines.append(
                f"{v}: {main} {med[f'{v}@{main}']:.1f} ms/run vs {other} {med[f'{v}@{other}']:.1f} "
                f"ms/run (tuned/default = {med[f'{v}@{main}'] / med[f'{v}@{other}']:.2f})"
            )
    runner = type(worker_options()["workflow_runner"]).__name__
    lines += ["", f"Replay with {runner} (median of {max(3, args.reps)}, min–max; a bare 'turn' is 2 steps):"]
    lines += pc.table(["history", "events", "ms", "ms per turn"], data["replay"])
    return lines


async def servers_for(args: argparse.Namespace, stack: AsyncExitStack) -> dict[str, Client]:
    if args.address:
        return {"given": await pc.connect(args.address)}
    started = {}
    for label, dynamic in (("tuned", pc.TUNED), ("default", {})):
        server = await pc.start_server(label, dynamic)
        stack.callback(server.stop)
        started[label] = server.client
    return started


async def amain(args: argparse.Namespace) -> int:
    wall = time.perf_counter()
    async with AsyncExitStack() as stack:
        try:
            servers = await servers_for(args, stack)
        except pc.Unreachable as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 1
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="perf-store-"))
        data = await measure(servers, Store.open(Path(tmp)), args)
    print("\n".join([*report(data, args, list(servers)), f"wall time {time.perf_counter() - wall:.1f} s"]))
    return 0


def main(argv: list[str] | None = None) -> NoReturn:
    # Production keeps INFO; see the report.
    entry.run(amain, parse_args(argv), level="WARNING")


if __name__ == "__main__":
    main()
