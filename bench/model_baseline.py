"""The settings before issue 19, kept so every `make bench-model` measures them again as the baseline.

No prefix warm-up, llama.cpp's defaults for batch sizes and prompt cache, the agent's support-v2
prompt (agents/merchant_support/prompts keeps every version) and the tool schemas as pydantic writes
them, with their titles and their descriptions of then (DESCRIPTIONS_BEFORE); the critic sent an
answer that hid an action back to the model once.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from activities.llm.llama_settings import LlamaSettings
from agents.merchant_support import AGENT as DEMO
from core.agent import Agent
from core.llm import ToolSchema

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
# Tool descriptions as they were, where issue 19 changed them.
DESCRIPTIONS_BEFORE = {
    "get_merchant_account": (
        "Look up a merchant by id (ids look like MID001). Returns name, status (active or suspended), "
        "country, currency, plan, contact email and the 5 most recent payments."
    ),
}


def agent_before() -> Agent[Any]:
    """The merchant-support agent as it ran before issue 19: the support-v2 prompt (the file kept),
    pydantic's own schemas, and a critic that sent a hiding answer back to the model once."""
    before = dataclasses.replace(
        DEMO,
        instructions=dataclasses.replace(DEMO.instructions, current=PROMPT_VERSION),
        critic=dataclasses.replace(DEMO.critic, send_back=True),
    )
    verbose = tuple(
        ToolSchema(
            name=s.name,
            description=DESCRIPTIONS_BEFORE.get(s.name, s.description),
            parameters=s.args_model.model_json_schema(),
        )
        for s in before.tools
    )
    before.__dict__["schemas"] = verbose  # Agent.schemas is a cached_property: this is its value
    return before
