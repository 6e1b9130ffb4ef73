"""The HTTP API of bench/api_sse.py in a process of its own, as a deployment runs it (`make api`):
its CPU is its own, not shared with the worker or the readers.

    python -m bench.api_sse_server ADDRESS QUEUE PORT TOKENS_DB [--poll-cooldown-ms N] [--poll-times FILE]

Stopped with SIGTERM; with --poll-times it writes how long its stream polls took (bench/api_sse_polls.py).
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta
from pathlib import Path

import uvicorn

from agents.merchant_support import AGENT as DEMO
from api import Service, TokenStore, create_app, stream_feed
from bench import api_sse_polls, entry
from bench import perf_common as pc
from client import AgentClient


async def amain(args: argparse.Namespace) -> int:
    stream_feed.POLL_COOLDOWN = timedelta(milliseconds=args.poll_cooldown_ms)
    if args.poll_times:
        api_sse_polls.time_polls()
        writing = asyncio.create_task(api_sse_polls.keep_writing(Path(args.poll_times)))
    client = await pc.connect(args.address)
    service = Service(
        AgentClient(client, args.queue), TokenStore(Path(args.tokens)), {DEMO.name: DEMO}, "http://ui.invalid",
        "default",
    )  # fmt: skip
    config = uvicorn.Config(create_app(service), port=args.port, log_level="error", lifespan="off")
    await uvicorn.Server(config).serve()
    if args.poll_times:
        writing.cancel()
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.api_sse_server")
    parser.add_argument("address")
    parser.add_argument("queue")
    parser.add_argument("port", type=int)
    parser.add_argument("tokens")
    parser.add_argument(
        "--poll-cooldown-ms", type=float, default=stream_feed.POLL_COOLDOWN.total_seconds() * 1000
    )
    parser.add_argument("--poll-times", help="write the stream polls' times here on exit")
    return parser.parse_args(argv)


if __name__ == "__main__":
    entry.run(amain, parse_args(), level="ERROR")
