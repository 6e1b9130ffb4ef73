"""One configuration of the embedded model, measured from a cold start: what bench/model.py compares.

In order: start llama.cpp (and warm it, if the configuration does) until the worker would report
ready; the demo cases through the workflow (the first model call after start is the demo's first
turn); the demo's first turn again, as the next `make demo` sends it; a first turn with a task the
server has not seen. The server is in this process, so its memory is this process's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client

from activities.llm.llama_settings import LlamaSettings
from activities.llm.local_model import MODEL_NAME, LocalModelServer
from activities.llm.openai_provider import OpenAIProvider
from activities.llm.warmup import Warmed, served_prefixes, warm
from bench.model_calls import Call, Caller, first_turn
from bench.model_cases import CaseRun, run_cases
from cli.demo import DEMO_TASK
from core.agent import Agent

UNSEEN_TASK = "Merchant MID003 asks when its next payout is due and why its account is suspended."


@dataclass(frozen=True)
class Config:
    label: str
    llama: LlamaSettings
    warm: bool
    agent: Agent[Any]  # the merchant-support agent as this configuration runs it


@dataclass
class Measured:
    label: str
    prompt_version: str
    ready_s: float = 0.0
    rss_before_mb: float = 0.0
    rss_started_mb: float = 0.0
    rss_ready_mb: float = 0.0
    warmed: list[Warmed] = field(default_factory=list)
    cases: list[CaseRun] = field(default_factory=list)
    again: Call | None = None
    unseen: Call | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def first_call_s(self) -> float:
        return self.cases[0].first_call_s if self.cases else 0.0

    @property
    def cases_s(self) -> float:
        return sum(c.seconds for c in self.cases)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def start(cfg: Config, model: Path, out: Measured, say: Callable[[str], None]) -> LocalModelServer:
    out.rss_before_mb = rss_mb()
    started = time.monotonic()
    server = LocalModelServer(model, settings=cfg.llama)
    await asyncio.to_thread(server.start)
    await server.wait_ready()
    out.rss_started_mb = rss_mb()
    if cfg.warm:
        provider = OpenAIProvider(server.base_url, default_model=MODEL_NAME)
        try:
            out.warmed = await warm(provider, served_prefixes([cfg.agent]), context_tokens=cfg.llama.n_ctx)
        finally:
            await provider.aclose()
    out.ready_s = time.monotonic() - started
    out.rss_ready_mb = rss_mb()
    warmed = ", ".join(f"{w.prompt_tokens} tokens in {w.seconds:.1f} s" for w in out.warmed) or "nothing"
    say(f"    ready after {out.ready_s:.1f} s (warmed: {warmed}); RSS {out.rss_ready_mb:.0f} MB")
    return server


async def measure(
    cfg: Config,
    model: Path,
    client: Client,
    store_dir: Path,
    cases: tuple[str, ...],
    max_turns: int,
    say: Callable[[str], None],
    after: Callable[[LocalModelServer, Caller, Measured], Any] | None = None,
) -> Measured:
    """Everything above for one configuration; `after` adds measurements on the same server."""
    say(f"  [{cfg.label}] starting llama.cpp ({cfg.llama})")
    out = Measured(cfg.label, cfg.agent.instructions.current)
    server = await start(cfg, model, out, say)
    caller = Caller(server.base_url, MODEL_NAME)
    provider = OpenAIProvider(server.base_url, default_model=MODEL_NAME)
    try:
        out.cases = await run_cases(client, provider, cfg.agent, store_dir, cases, say, max_turns=max_turns)
        out.again = await caller.call(first_turn(DEMO_TASK, cfg.agent))
        say(
            f"    the demo's first turn again: {out.again.wall_s:.2f} s, "
            f"first text after {out.again.ttft_s:.2f} s"
        )
        out.unseen = await caller.call(first_turn(UNSEEN_TASK, cfg.agent))
        say(f"    an unseen task's first turn: first text after {out.unseen.ttft_s:.2f} s")
        if after is not None:
            await after(server, caller, out)
    finally:
        await caller.aclose()
        await provider.aclose()
        server.close()
    return out
