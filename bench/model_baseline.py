"""The settings before issue 19, kept so every `make bench-model` measures them again as the baseline.

No prefix warm-up, llama.cpp's defaults for batch sizes and prompt cache, and the agent's support-v2
prompt (agents/merchant_support/prompts keeps every version).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from activities.llm.llama_settings import LlamaSettings
from agents.merchant_support import AGENT as DEMO
from core.agent import Agent

BEFORE = LlamaSettings(
    threads=2,
    n_ctx=8192,
    n_batch=2048,  # llama.cpp's default, not set before
    n_ubatch=512,  # ditto
    slots=1,
    cache_ram_mib=8192,  # ditto
    warmup=False,
)
PROMPT_VERSION = "support-v2"


def agent_before() -> Agent[Any]:
    """The merchant-support agent as it ran before issue 19: the support-v2 prompt (the file kept)."""
    return dataclasses.replace(
        DEMO, instructions=dataclasses.replace(DEMO.instructions, current=PROMPT_VERSION)
    )
