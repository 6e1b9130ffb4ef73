"""Conversation benchmark (issue 16): one long conversation, and a burst of messages sent at once.

    python -m bench.conversation [--messages 500] [--burst 20] [--threshold 1000000]
        [--address HOST:PORT] [--out bench/results/conversation.json]

The merchant-support agent on its stand-in model (scripted, deterministic), on the production worker.
1. `--messages` messages one after another on one thread, continue-as-new at `--threshold` history
   bytes: history bytes per message (windows of 49 from message 10 on, within ±15 %), the size of each
   run when it handed over, prompt tokens per message (bounded).
2. `--burst` messages sent at once to a fresh thread whose threshold is small, so it continues as new
   while messages wait: each answered exactly once, with its own answer, none handled twice.
Without --address a local dev server is started. Exit 0 when every point holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, NoReturn

from temporalio.client import Client

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import ScriptBook, ScriptedTransport
from agents import merchant_support
from bench import entry
from bench.conversation_history import chain, scheduled
from bench.conversation_report import acceptance, bytes_after_each_message, render, run_sizes, windows
from bench.options import positive
from bench.retries import _client
from client.conversations import ConversationClient
from core.agent import AgentEnv
from core.apps import opened_deps
from core.worker_options import worker_options
from worker import build_worker

AGENT = merchant_support.AGENT
PAYMENTS = [f"pay_ABC12{n}" for n in range(3, 10)]
BURST_THRESHOLD = 20_000
WINDOW, FROM_MESSAGE = 49, 10


def message(n: int) -> str:
    return f"Look up {PAYMENTS[n % len(PAYMENTS)]}, message {n}."


async def long_conversation(
    chats: ConversationClient, client: Client, count: int, threshold: int
) -> dict[str, Any]:
    thread_id = f"bench-conv-{uuid.uuid4().hex[:8]}"
    opened = await chats.open(thread_id, agent=AGENT.name, user_id="MID001", history_bytes_per_run=threshold)
    prompts, started = [], time.perf_counter()
    for n in range(1, count + 1):
        reply = await chats.send(thread_id, message(n))
        if PAYMENTS[n % len(PAYMENTS)] not in reply.answer:
            raise RuntimeError(f"message {n} got another message's answer: {reply.answer[:200]}")
        prompts.append(reply.prompt_tokens)
        if n % 50 == 0 or n == count:
            status = await chats.status(thread_id)
            per_s = (time.perf_counter() - started) / n
            print(
                f"  message {n}/{count}: run {status.run}, {status.history_bytes:,} B in this run, "
                f"prompt {reply.prompt_tokens} tokens, {per_s * 1000:.0f} ms/message",
                flush=True,
            )
    await chats.close(thread_id)
    result = await opened.result()
    histories = await chain(client, thread_id, opened.first_execution_run_id)
    marks = bytes_after_each_message(histories)
    return {"thread": thread_id, "handled": result.handled, "marks": marks, "prompts": prompts,
            "sizes": run_sizes(histories)}  # fmt: skip


async def burst(chats: ConversationClient, client: Client, count: int) -> dict[str, Any]:
    thread_id = f"bench-burst-{uuid.uuid4().hex[:8]}"
    opened = await chats.open(
        thread_id, agent=AGENT.name, user_id="MID002", history_bytes_per_run=BURST_THRESHOLD
    )
    texts = [f"Look up pay_DEF20{n % 5 + 1}, burst {n}." for n in range(count)]
    replies = await asyncio.gather(*(chats.send(thread_id, text) for text in texts))
    await chats.close(thread_id)
    result = await opened.result()
    histories = await chain(client, thread_id, opened.first_execution_run_id)
    own = all(f"pay_DEF20{n % 5 + 1}" in r.answer for n, r in enumerate(replies))
    ids = {r.message_id for r in replies}
    model_calls = scheduled(histories).count("llm.complete")
    # Two model calls a message (look up, answer): more would mean a message handled twice.
    once = own and len(ids) == count and result.handled == count and model_calls == 2 * count
    print(f"  burst: {count} sent at once, {len(ids)} answered, {len(histories)} runs", flush=True)
    return {"messages": count, "answered": len(ids), "model_calls": model_calls, "runs": len(histories),
            "answered_once": once}  # fmt: skip


async def measure(
    client: Client, messages: int, burst_size: int, threshold: int, window: int = WINDOW
) -> dict[str, Any]:
    """Both parts on one production worker of its own task queue."""
    queue = f"bench-conversation-{uuid.uuid4().hex[:6]}"
    transport = ScriptedTransport(ScriptBook({}, AGENT.stand_in))
    provider = OpenAIProvider("http://scripted.invalid/v1", default_model="scripted", transport=transport)
    async with (
        opened_deps([AGENT], AgentEnv(Path(tempfile.mkdtemp()))) as deps,
        build_worker(client, queue, [AGENT], provider, deps, **worker_options()),
    ):
        chats = ConversationClient(client, queue)
        print(f"{messages} messages on one conversation, continue-as-new at {threshold:,} B", flush=True)
        long = await long_conversation(chats, client, messages, threshold)
        burst_figures = await burst(chats, client, burst_size)
    spans = windows(long["marks"], long["prompts"], FROM_MESSAGE, window)
    ok = acceptance(spans, long["sizes"], threshold, burst_figures, long["prompts"])
    return {"long": long, "burst": burst_figures, "windows": [w.__dict__ for w in spans], "acceptance": ok,
            "lines": render(spans, long["sizes"], threshold, burst_figures, ok)}  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.conversation", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=positive, default=500)
    parser.add_argument("--burst", type=positive, default=20)
    parser.add_argument("--threshold", type=positive, default=1_000_000, help="history bytes per run")
    parser.add_argument("--address", default=None, help="a Temporal server (default: start a local one)")
    parser.add_argument("--out", type=Path, default=None)
    return parser.parse_args(argv)


async def amain(args: argparse.Namespace) -> int:
    client, env = await _client(args.address)
    started = time.perf_counter()
    try:
        figures = await measure(client, args.messages, args.burst, args.threshold)
    finally:
        if env is not None:
            await env.shutdown()
    print("\n".join(figures["lines"]))
    print(f"wall {time.perf_counter() - started:.1f} s")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        figures["long"].pop("marks")
        args.out.write_text(json.dumps(figures, indent=2, default=str))
    return 0 if all(figures["acceptance"].values()) else 1


def main() -> NoReturn:
    entry.run(amain, parse_args())


if __name__ == "__main__":
    main()
