"""llama.cpp's own figures for the model file on this machine: the physical limit we compare against.

Bare calls to the embedded server's native endpoints (`/completion`, `/apply-template`, `/tokenize`),
with none of our code in the path; the server reports its own timings, so HTTP is not counted either.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from activities.llm.openai_provider import build_request_body
from core.models import LlmRequest


@dataclass(frozen=True)
class Timings:
    """llama.cpp's `timings` of one request."""

    cache_n: int
    prompt_n: int
    prompt_ms: float
    predicted_n: int
    predicted_ms: float

    @property
    def prompt_tps(self) -> float:
        return self.prompt_n / self.prompt_ms * 1000 if self.prompt_ms else 0.0

    @property
    def gen_tps(self) -> float:
        return self.predicted_n / self.predicted_ms * 1000 if self.predicted_ms else 0.0

    @classmethod
    def of(cls, data: Any) -> Timings:
        t = data.get("timings") if isinstance(data, dict) else None
        if not isinstance(t, dict):
            raise ValueError(f"no llama.cpp timings in the reply: {str(data)[:200]}")
        return cls(
            int(t.get("cache_n", 0)),
            int(t["prompt_n"]),
            float(t["prompt_ms"]),
            int(t["predicted_n"]),
            float(t["predicted_ms"]),
        )


@dataclass(frozen=True)
class Limit:
    prompt_tps: float
    gen_tps: float
    prompt_tokens: int
    gen_tokens: int


def root_of(base_url: str) -> str:
    """The server's root from its OpenAI base URL (…/v1)."""
    return base_url.removesuffix("/").removesuffix("/v1")


async def render(client: httpx.AsyncClient, root: str, req: LlmRequest) -> str:
    """The prompt text llama.cpp's chat template makes of `req`, exactly as our provider sends it."""
    body = build_request_body(req, "model")
    payload = {k: body[k] for k in ("messages", "tools") if k in body}
    response = await client.post(f"{root}/apply-template", json=payload)
    response.raise_for_status()
    return str(response.json()["prompt"])


async def count_tokens(client: httpx.AsyncClient, root: str, text: str) -> int:
    response = await client.post(f"{root}/tokenize", json={"content": text, "add_special": False})
    response.raise_for_status()
    return len(response.json()["tokens"])


async def bare(
    client: httpx.AsyncClient, root: str, prompt: str, n_predict: int, *, cached: bool = False
) -> Timings:
    """One raw completion; `cached=False` makes llama.cpp process the whole prompt again."""
    body = {
        "prompt": prompt,
        "n_predict": n_predict,
        "cache_prompt": cached,
        "temperature": 0,
        "ignore_eos": True,  # exactly n_predict tokens, so every generation figure has the same length
    }
    response = await client.post(f"{root}/completion", json=body)
    response.raise_for_status()
    return Timings.of(response.json())


# ── how much of the machine other processes took while we measured ──────────


@dataclass(frozen=True)
class CpuMark:
    wall: float
    busy: int  # jiffies of every CPU, not idle
    own: int  # jiffies of this process (the embedded server's threads included)


def cpu_mark() -> CpuMark:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
    stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return CpuMark(time.monotonic(), busy, int(stat[11]) + int(stat[12]))


def others_share(since: CpuMark) -> float:
    """The share of all CPUs used by other processes since `since` (0.5: one of two cores)."""
    now = cpu_mark()
    ticks = (now.wall - since.wall) * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
    return max(0.0, (now.busy - since.busy) - (now.own - since.own)) / ticks if ticks > 0 else 0.0
