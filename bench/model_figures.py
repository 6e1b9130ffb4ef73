"""Tokens per second of llama.cpp alone and of our path, and the token counts of each prompt version.

Measured on the configuration's own server, after its demo cases. The limit is llama.cpp's `timings`
for bare `/completion` calls on prompts rendered as our calls send them, so both have the same length.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median
from typing import Any

import httpx

from activities.llm.local_model import LocalModelServer
from agents.merchant_support import AGENT as DEMO
from agents.merchant_support.seed import KB_DOCS
from bench import model_baseline
from bench.model_calls import Call, Caller, free_text
from bench.model_limits import Limit, Timings, bare, count_tokens, cpu_mark, others_share, render, root_of
from core.models import ChatMessage, LlmRequest, ToolSchema

GEN_TEXT = "Explain in about 300 words, step by step, how a card chargeback works for a small merchant."


@dataclass(frozen=True)
class Speeds:
    limit: Limit
    ours_prompt_tps: float
    ours_gen_tps: float
    server_prompt_tps: float  # llama.cpp's own figure for our prompt call
    server_gen_tps: float  # ...and for our generation call
    prompt_tokens: int
    gen_tokens: int
    others_cpu_share: float = 0.0  # of all CPUs, by other processes, while these were measured
    # Medians of each pair's ratio (ours over the limit call just before it): a pair shares the load of
    # its half-minute, where the medians of each side may come from different minutes.
    prompt_ratio: float = 0.0
    gen_ratio: float = 0.0


def _policy_text(chars: int) -> str:
    text = " ".join(body for _, _, body in KB_DOCS)
    return text[:chars]


async def speeds(server: LocalModelServer, caller: Caller, tiny: bool, say: Callable[[str], None]) -> Speeds:
    """llama.cpp alone and our path, interleaved call by call, medians of each.

    Interleaved because generation on 2 threads halves whenever another process takes a core: measured
    one block after the other, a busy minute lands on one side only and decides the ratio."""
    gen_tokens = 16 if tiny else 128
    text = _policy_text(400 if tiny else 2400)
    repeats = 1 if tiny else 5
    gen_req = free_text(GEN_TEXT, gen_tokens)
    limits: list[Timings] = []
    prompts: list[Call] = []
    gens: list[Call] = []
    gen_limits: list[Timings] = []
    mark = cpu_mark()
    async with httpx.AsyncClient(timeout=httpx.Timeout(900.0)) as client:
        root = root_of(server.base_url)
        rendered_gen = await render(client, root, gen_req)
        await caller.call(gen_req)  # from here on, our generation calls find their prompt cached
        for _ in range(repeats):
            # Each prompt call gets a prompt of its own, the same length: nothing of it is cached.
            fresh = free_text(f"[{uuid.uuid4().hex}] Summarise:\n{text}", 16)
            limits.append(await bare(client, root, await render(client, root, fresh), 1))
            prompts.append(await caller.call(free_text(f"[{uuid.uuid4().hex}] Summarise:\n{text}", 16)))
            gen_limits.append(await bare(client, root, rendered_gen, gen_tokens, cached=True))
            gens.append(await caller.call(gen_req))
    others = others_share(mark)
    limit = Limit(
        median(t.prompt_tps for t in limits),
        median(t.gen_tps for t in gen_limits),
        limits[0].prompt_n,
        gen_limits[0].predicted_n,
    )
    say(f"    llama.cpp alone: prompt {limit.prompt_tps:.1f} tok/s, generation {limit.gen_tps:.2f} tok/s")
    say(
        f"    ours (llm.complete): prompt {median(c.prompt_tps for c in prompts):.1f} tok/s, "
        f"generation {median(c.gen_tps for c in gens):.2f} tok/s ({gens[0].reply.usage.completion_tokens} "
        f"tokens); other processes took {others:.0%} of the CPUs meanwhile"
    )
    return Speeds(
        limit=limit,
        ours_prompt_tps=median(c.prompt_tps for c in prompts),
        ours_gen_tps=median(c.gen_tps for c in gens),
        server_prompt_tps=median(c.server.prompt_tps for c in prompts),
        server_gen_tps=median(c.server.gen_tps for c in gens),
        prompt_tokens=prompts[0].server.prompt_n,
        gen_tokens=gens[0].reply.usage.completion_tokens,
        others_cpu_share=others,
        prompt_ratio=median(c.prompt_tps / t.prompt_tps for c, t in zip(prompts, limits, strict=True)),
        gen_ratio=median(c.gen_tps / t.gen_tps for c, t in zip(gens, gen_limits, strict=True)),
    )


def _turn(system: str, tools: tuple[ToolSchema, ...]) -> LlmRequest:
    opening = DEMO.instructions.task_template.partition("{task}")[0]
    messages = (ChatMessage(role="system", content=system), ChatMessage(role="user", content=opening))
    return LlmRequest(workflow_id="bench", turn=1, prompt_version="bench", messages=messages, tools=tools)


async def prompt_tokens(server: LocalModelServer) -> dict[str, dict[str, Any]]:
    """Per prompt version: tokens of the system prompt, of the tool schemas as the template renders
    them, and of the whole first-turn prefix (everything before the task)."""
    versions = {
        version: (DEMO.instructions.text(version) or "", DEMO.schemas)
        for version in (model_baseline.PROMPT_VERSION, DEMO.instructions.current)
    }
    out: dict[str, dict[str, Any]] = {}
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as client:
        root = root_of(server.base_url)
        for version, (system, tools) in versions.items():
            with_tools = await count_tokens(client, root, await render(client, root, _turn(system, tools)))
            without = await count_tokens(client, root, await render(client, root, _turn(system, ())))
            out[version] = {
                "system": await count_tokens(client, root, system),
                "tools": with_tools - without,
                "prefix": with_tools,
                "system_chars": len(system),
                "tools_chars": sum(len(t.model_dump_json()) for t in tools),
            }
    return out
