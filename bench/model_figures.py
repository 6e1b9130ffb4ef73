"""Tokens per second of llama.cpp alone and of our path, and the token counts of each prompt version.

Measured on the configuration's own server, after its demo cases. The limit is llama.cpp's `timings`
for bare `/completion` calls on the same rendered prompts our calls send, so both have the same length.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from activities.llm.local_model import LocalModelServer
from agents.merchant_support import AGENT as DEMO
from agents.merchant_support.seed import KB_DOCS
from bench import model_baseline
from bench.model_calls import Caller, free_text
from bench.model_limits import Limit, count_tokens, physical_limit, render, root_of
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


def _policy_text(chars: int) -> str:
    text = " ".join(body for _, _, body in KB_DOCS)
    return text[:chars]


async def speeds(server: LocalModelServer, caller: Caller, tiny: bool, say: Callable[[str], None]) -> Speeds:
    gen_tokens = 16 if tiny else 128
    text = _policy_text(400 if tiny else 2400)
    async with httpx.AsyncClient(timeout=httpx.Timeout(900.0)) as client:
        root = root_of(server.base_url)
        prompt_req = free_text(f"[{uuid.uuid4().hex}] Summarise:\n{text}", 16)
        gen_req = free_text(GEN_TEXT, gen_tokens)
        repeats = 1 if tiny else 3
        rendered = await render(client, root, prompt_req)
        limit_prompt = await physical_limit(client, root, rendered, 1, repeats=repeats)
        rendered = await render(client, root, gen_req)
        limit_gen = await physical_limit(client, root, rendered, gen_tokens, repeats=repeats)
    limit = Limit(
        limit_prompt.prompt_tps, limit_gen.gen_tps, limit_prompt.prompt_tokens, limit_gen.gen_tokens
    )
    say(f"    llama.cpp alone: prompt {limit.prompt_tps:.1f} tok/s, generation {limit.gen_tps:.2f} tok/s")
    prompt_call = await caller.call(prompt_req)
    await caller.call(gen_req)  # the next one finds its prompt cached: generation only
    gen_call = await caller.call(gen_req)
    say(
        f"    ours (llm.complete): prompt {prompt_call.prompt_tps:.1f} tok/s, "
        f"generation {gen_call.gen_tps:.2f} tok/s ({gen_call.reply.usage.completion_tokens} tokens)"
    )
    return Speeds(
        limit=limit,
        ours_prompt_tps=prompt_call.prompt_tps,
        ours_gen_tps=gen_call.gen_tps,
        server_prompt_tps=prompt_call.server.prompt_tps,
        server_gen_tps=gen_call.server.gen_tps,
        prompt_tokens=prompt_call.server.prompt_n,
        gen_tokens=gen_call.reply.usage.completion_tokens,
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
