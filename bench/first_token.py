"""When the first token of a run's answer reaches `starter.py run`, next to when the whole answer
is ready, on the local model (issue 15).

    python -m bench.first_token [--task TEXT]   (AGENT_DATA_DIR holds the model: `make model`)

A dev server, the production worker on the embedded model (warmed as the worker warms it), one run
of the support agent followed as `starter.py run` follows it (cli/live_text.py). Times are from the
start of the run: the first piece of text of the run, the first of its answer (the model call that
wrote the final answer), the answer's last piece, and the result at the CLI.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from activities.llm.models_from_env import open_models
from agents.merchant_support import AGENT as DEMO
from agents.merchant_support import Store
from bench import entry
from bench import perf_common as pc
from cli.live_text import LiveConsole, show_text
from client import AgentClient
from core.config import Settings
from core.live import TextPiece
from core.models import AgentRequest
from worker import build_worker

TASK = "What is your policy on refunds of duplicate charges? Answer in two sentences."


async def measure(args: argparse.Namespace, server: pc.DevServer, tmp: Path) -> int:
    settings = dataclasses.replace(Settings.from_env(), llm_provider="local")
    store = await Store.open_async(tmp)
    queue = f"first-token-{uuid.uuid4().hex[:6]}"
    shown: list[tuple[TextPiece, float]] = []
    async with (
        open_models(settings, [DEMO]) as models,
        build_worker(server.client, queue, [DEMO], models, {DEMO.name: store}),
    ):
        began = time.monotonic()
        handle = await AgentClient(server.client, queue).start(
            AgentRequest(task=args.task, agent=DEMO.name, user_id="bench")
        )

        def on_shown(piece: TextPiece, _at: datetime) -> None:
            shown.append((piece, time.monotonic() - began))

        text = asyncio.create_task(
            show_text(server.client, handle.id, LiveConsole(sys.stdout.write), on_shown)
        )
        result = await handle.result()
        ready = time.monotonic() - began
        await asyncio.wait_for(text, 30)
    pieces = [(p, t) for p, t in shown if p.text]
    if not pieces:
        print("no text was streamed: is the run on a model that streams?", file=sys.stderr)
        return 1
    answer_call = pieces[-1][0].call
    answer = [t for p, t in pieces if p.call == answer_call]
    print(f"\nrun {handle.id}: {result.status.value} in {result.turns} turns; {len(pieces)} pieces of text")
    rows = [
        ["first piece of text of the run", f"{pieces[0][1]:.2f}"],
        ["first piece of the answer", f"{answer[0]:.2f}"],
        ["last piece of the answer", f"{answer[-1]:.2f}"],
        ["result at the CLI (whole answer ready)", f"{ready:.2f}"],
    ]
    print("\n".join(pc.table(["seen at the CLI", "s after start"], rows)))
    print(f"load {pc.load_average()}")
    return 0 if answer[0] < ready else 1


async def amain(args: argparse.Namespace) -> int:
    server = await pc.start_server("tuned", pc.TUNED)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return await measure(args, server, Path(tmp))
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> NoReturn:
    parser = argparse.ArgumentParser(prog="python -m bench.first_token", description=__doc__.splitlines()[0])
    parser.add_argument("--task", default=TASK)
    entry.run(amain, parser.parse_args(argv), level="ERROR")


if __name__ == "__main__":
    main()
