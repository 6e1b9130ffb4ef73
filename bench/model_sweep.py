"""`python -m bench.model --sweep`: llama.cpp's prompt and generation speed per thread/batch setting.

Each setting gets a fresh server; the settings are measured in rounds (every setting once per round,
in the same order) so a change of machine load hits them all alike, and the median round is shown.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from activities.llm.llama_settings import LlamaSettings
from activities.llm.local_model import MODEL_NAME, LocalModelServer
from activities.llm.warmup import warm
from agents.merchant_support import AGENT as DEMO
from agents.shop import AGENT as SHOP
from bench import perf_common as pc
from bench.model_calls import Call, Caller
from bench.model_limits import Timings, bare, cpu_mark, others_share, render, root_of
from bench.model_run import rss_mb
from bench.perf_common import table
from core.models import ChatMessage, LlmRequest, ToolSchema


@dataclass(frozen=True)
class Variant:
    label: str
    settings: LlamaSettings
    tweak: Callable[[Any], None] | None = None  # llama.cpp options LlamaSettings does not carry


class _Server(LocalModelServer):
    def __init__(self, model: Path, variant: Variant) -> None:
        super().__init__(model, settings=variant.settings)
        self.tweak = variant.tweak

    def params(self) -> Any:
        params = super().params()
        if self.tweak is not None:
            self.tweak(params)
        return params


def _poll(level: int) -> Callable[[Any], None]:
    def tweak(params: Any) -> None:
        params.cpuparams.poll = level
        params.cpuparams_batch.poll = level

    return tweak


def _flash(kind: int) -> Callable[[Any], None]:
    def tweak(params: Any) -> None:
        params.flash_attn_type = kind

    return tweak


def variants(base: LlamaSettings) -> list[Variant]:
    """Threads, then batch/micro-batch, then two options llama.cpp picks by itself (poll, flash)."""
    out = [Variant(f"threads={t}", replace(base, threads=t)) for t in (1, 2, 3)]
    for batch, ubatch in ((2048, 512), (512, 256), (256, 256), (128, 128), (2048, 2048)):
        out.append(Variant(f"batch={batch} ubatch={ubatch}", replace(base, n_batch=batch, n_ubatch=ubatch)))
    out.append(Variant("poll=0 (no spin-wait)", base, _poll(0)))
    out.append(Variant("flash attention off", base, _flash(0)))
    out.append(Variant("flash attention on", base, _flash(1)))
    return out


QUIET = 0.05  # a measurement counts as undisturbed when other processes took under 5% of the machine


@dataclass(frozen=True)
class Sample:
    timing: Timings
    others: float  # share of the machine other processes used meanwhile


async def _sample(model: Path, variant: Variant, prompt: str, n_predict: int) -> Sample:
    """A fresh server for one uncached request: one server at a time, as each holds its own weights."""
    server = _Server(model, variant)
    await asyncio.to_thread(server.start)
    try:
        await server.wait_ready()
        async with httpx.AsyncClient(timeout=httpx.Timeout(900.0)) as client:
            root = root_of(server.base_url)
            await bare(client, root, "Hello", 4)  # pages the weights in before anything is timed
            mark = cpu_mark()
            timing = await bare(client, root, prompt, n_predict)
            return Sample(timing, others_share(mark))
    finally:
        server.close()


def _row(label: str, samples: list[Sample]) -> list[str]:
    quiet = [s for s in samples if s.others < QUIET] or samples
    return [
        label,
        f"{statistics.median(s.timing.prompt_tps for s in quiet):.1f}",
        f"{max(s.timing.prompt_tps for s in samples):.1f}",
        f"{statistics.median(s.timing.gen_tps for s in quiet):.2f}",
        f"{max(s.timing.gen_tps for s in samples):.2f}",
        f"{sum(s.others < QUIET for s in samples)}/{len(samples)}",
    ]


async def sweep(
    model: Path,
    prompt: str,
    n_predict: int,
    rounds: int,
    chosen: Sequence[Variant],
    say: Callable[[str], None],
) -> list[str]:
    """Rounds of one uncached request per setting, in turn, so that others' load hits all alike."""
    results: dict[str, list[Sample]] = {v.label: [] for v in chosen}
    for r in range(rounds):
        for v in chosen:
            sample = await _sample(model, v, prompt, n_predict)
            results[v.label].append(sample)
            say(
                f"  round {r + 1}/{rounds} {v.label}: prompt {sample.timing.prompt_tps:.1f} tok/s, "
                f"generation {sample.timing.gen_tps:.2f} tok/s (others' CPU {sample.others:.0%})"
            )
    header = ["setting", "prompt tok/s", "best", "gen tok/s", "best", "quiet"]
    lines = table(header, [_row(v.label, results[v.label]) for v in chosen])
    return [*lines, f"(medians over the quiet samples: others' CPU under {QUIET:.0%} of the machine)"]


# ── slots and prompt cache, with two agents' prefixes ───────────────────────

SLOT_VARIANTS = ((1, 0), (1, 1024), (2, 0), (2, 1024))


def _agents() -> list[tuple[str, str, tuple[ToolSchema, ...]]]:
    """The two demo agents a stock worker serves, whose prefixes compete for llama.cpp's slots."""
    return [(a.name, a.instructions.text() or "", a.schemas) for a in (DEMO, SHOP)]


def _turn(system: str, tools: tuple[ToolSchema, ...], task: str) -> LlmRequest:
    template = DEMO.instructions.task_template
    user = template.format(task=task) if task else template.partition("{task}")[0]
    messages = (ChatMessage(role="system", content=system), ChatMessage(role="user", content=user))
    return LlmRequest(workflow_id="bench", turn=1, prompt_version="bench", messages=messages, tools=tools)


async def _alternate(model: Path, settings: LlamaSettings, turns: int) -> tuple[list[Call], float, float]:
    """Warm both prefixes, then first turns of the two agents in alternation, each with a new task."""
    server = LocalModelServer(model, settings=settings)
    await asyncio.to_thread(server.start)
    caller = Caller(server.base_url, MODEL_NAME)
    try:
        await server.wait_ready()
        agents = _agents()
        started = time.monotonic()
        await warm(caller.provider, [_turn(s, t, "") for _, s, t in agents], context_tokens=settings.n_ctx)
        warm_s = time.monotonic() - started
        calls = []
        for i in range(turns):
            _, system, tools = agents[i % 2]
            calls.append(
                await caller.call(_turn(system, tools, f"Case {i}: the customer asks about order {i}."))
            )
        return calls, warm_s, rss_mb()
    finally:
        await caller.aclose()
        server.close()


async def slots(model: Path, base: LlamaSettings, turns: int, say: Callable[[str], None]) -> list[str]:
    rows = []
    for n, cache in SLOT_VARIANTS:
        settings = replace(base, slots=n, cache_ram_mib=cache)
        calls, warm_s, rss = await _alternate(model, settings, turns)
        processed = [c.server.prompt_n for c in calls]
        say(
            f"  slots={n} cache_ram={cache} MiB: tokens processed per call {processed} "
            f"(load {pc.load_average()})"
        )
        rows.append(
            [
                f"slots={n}, prompt cache {cache} MiB",
                f"{warm_s:.1f}",
                f"{statistics.median(c.wall_s for c in calls):.2f}",
                f"{max(c.wall_s for c in calls):.2f}",
                str(sum(processed)),
                f"{rss:.0f}",
            ]
        )
    header = ["setting", "warm-up s", "first turn s (median)", "max", "tokens processed", "RSS MB"]
    return table(header, rows)


async def main(model: Path, args: Any, say: Callable[[str], None]) -> list[str]:
    base = LlamaSettings.from_env()
    if args.slots:
        say(f"two agents, first turns in alternation, per slot setting (load {pc.load_average()}):")
        return ["Two agents' first turns in alternation:", *await slots(model, base, 6, say)]
    prompt = await _sweep_prompt(model, base)
    say(f"sweep: {len(variants(base))} settings × {args.rounds} rounds (load {pc.load_average()})")
    lines = await sweep(model, prompt, 64, args.rounds, variants(base), say)
    return [f"llama.cpp alone, per setting (median of {args.rounds} rounds; base {base}):", *lines]


async def _sweep_prompt(model: Path, base: LlamaSettings) -> str:
    """The support agent's rendered first-turn prefix: the prompt every run starts with."""
    server = LocalModelServer(model, settings=base)
    await asyncio.to_thread(server.start)
    try:
        await server.wait_ready()
        async with httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as client:
            _, system, tools = _agents()[0]
            return await render(client, root_of(server.base_url), _turn(system, tools, ""))
    finally:
        server.close()
