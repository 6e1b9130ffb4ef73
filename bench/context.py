"""Context benchmark (issue 5): history bytes and prompt tokens per turn, bounded context vs naive.

    python -m bench.context [--turns 10,50,200] [--naive-cap 50] [--out bench/results/context.json]
        [--address HOST:PORT] [--tiny]

Both variants run AgentWorkflow with the "context" toolset (~5 KB per tool result) and a scripted
model that reads one new document per turn. "ours": the default guardrails (bounded context window,
continue-as-new every 40 turns). "naive": the same workflow with a 1M-token window and no turn-based
continue-as-new, so every call sends the whole conversation. Without --address a local dev server is
started (in-memory). Exit 0 when every acceptance point holds, 1 otherwise or without a server, 2 on
bad options.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any, NoReturn

from temporalio.client import Client

from bench import entry
from bench.agents import CONTEXT
from bench.context_history import fetch_runs, measure
from bench.context_model import reader_provider, task_for
from bench.context_report import acceptance, compare_turn, render
from bench.options import positive
from bench.retries import _client
from core.guardrails import ContextSettings, RunBudgets
from core.models import AgentLimits, AgentRequest
from worker import build_worker
from workflows.agent import AgentWorkflow

# A naive agent resends the whole conversation, tool outputs uncut: no window, no truncation.
NAIVE_CONTEXT = ContextSettings(
    max_context_tokens=1_000_000,
    turns_per_run=10_000,
    max_observation_chars={"head": 1_000_000, "head_tail": 1_000_000, "records": 1_000_000},
)
# The naive prompt grows by ~3 KB a turn, so its tokens grow quadratically: 200 turns would need ~16M
# prompt tokens (beyond RunBudgets' 5M ceiling) and ~65 MB of history. 50 turns show the trend.
NAIVE_CAP = 50
TINY_TURNS = [4, 16]


def _turn_list(text: str) -> list[int]:
    turns = [positive(part.strip()) for part in text.split(",") if part.strip()]
    if not turns:
        raise argparse.ArgumentTypeError("give at least one turn count, e.g. 10,50,200")
    return sorted(set(turns))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.context", description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=_turn_list, default=[10, 50, 200], help="comma separated, > 0")
    parser.add_argument("--naive-cap", type=positive, default=NAIVE_CAP, help="most turns of naive runs")
    parser.add_argument("--out", type=Path, default=Path("bench/results/context.json"))
    parser.add_argument("--address", help="an existing Temporal server (default: start a local one)")
    parser.add_argument("--tiny", action="store_true", help=f"turns {TINY_TURNS} (for tests)")
    args = parser.parse_args(argv)
    if any(t > 998 for t in args.turns):
        parser.error("--turns: at most 998 (AgentLimits.max_turns is at most 1000)")
    if args.tiny:
        args.turns, args.naive_cap = TINY_TURNS, max(TINY_TURNS)
    return args


def request_for(variant: str, turns: int) -> AgentRequest:
    """N tool turns and the answer, with budgets raised only as far as the case needs."""
    return AgentRequest(
        task=task_for(turns),
        user_id="bench",
        agent=CONTEXT.name,
        limits=AgentLimits(max_turns=turns + 2),
        budgets=RunBudgets(max_tool_calls=min(5000, 2 * turns + 10), max_tokens=5_000_000),
        context=NAIVE_CONTEXT if variant == "naive" else ContextSettings(),
        user_budget=None,
    )


async def run_case(client: Client, queue: str, variant: str, turns: int, tag: str) -> dict[str, Any]:
    workflow_id = f"ctx-{tag}-{variant}-{turns}"
    started = time.perf_counter()
    handle = await client.start_workflow(
        AgentWorkflow.run,
        request_for(variant, turns),
        id=workflow_id,
        task_queue=queue,
    )
    result = await handle.result()
    wall_s = time.perf_counter() - started
    size = measure(await fetch_runs(client, workflow_id, handle.first_execution_run_id or ""))
    prompt = {step.turn: step.tokens.prompt_tokens for step in result.steps if step.error is None}
    return {
        "variant": variant,
        "turns": turns,
        "workflow_id": workflow_id,
        "status": result.status.value,
        "stop_reason": result.stop_reason,
        "model_calls": result.turns,
        "tool_calls": len(result.tool_calls),
        "runs_reported": result.runs,
        "wall_s": round(wall_s, 2),
        "history": size.as_dict(),
        "bytes_per_turn": round(size.total_bytes / turns),
        "prompt_tokens": [prompt[t] for t in sorted(prompt)],
    }


def cases(args: argparse.Namespace) -> list[tuple[str, int]]:
    naive = sorted({min(t, args.naive_cap) for t in args.turns})
    return [("ours", t) for t in args.turns] + [("naive", t) for t in naive]


async def run_all(client: Client, args: argparse.Namespace) -> list[dict[str, Any]]:
    tag = uuid.uuid4().hex[:6]
    queue = f"bench-context-{tag}"
    async with build_worker(client, queue, [CONTEXT], reader_provider(), {}):
        jobs = [run_case(client, queue, variant, turns, tag) for variant, turns in cases(args)]
        return list(await asyncio.gather(*jobs))


async def amain(args: argparse.Namespace) -> int:
    try:
        client, env = await _client(args.address)
    except Exception as exc:  # any failure here means there is no server to benchmark against
        where = args.address or "a local dev server"
        print(f"bench: cannot reach Temporal at {where}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    print(f"… ours at {args.turns} turns, naive at {[t for v, t in cases(args) if v == 'naive']}", flush=True)
    try:
        results = await run_all(client, args)
    finally:
        if env is not None:
            await env.shutdown()
    comparison = compare_turn(results, 15)
    points = acceptance(results, comparison)
    document = {
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "bytes": "protobuf ByteSize() of every history event, summed over all runs of the workflow id",
        "naive_cap": args.naive_cap,
        "wall_s": round(time.perf_counter() - started, 2),
        "cases": results,
        "turn_15": comparison,
        "acceptance": points,
    }
    print("\n".join(render(document)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=1))
    return 0 if all(p["ok"] for p in points) else 1


def main(argv: list[str] | None = None) -> NoReturn:
    entry.run(amain, parse_args(argv), level="ERROR", sdk_level=logging.CRITICAL)


if __name__ == "__main__":
    main()
