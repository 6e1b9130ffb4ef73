"""The settings before issue 19, kept so every `make bench-model` measures them again as the baseline.

No prefix warm-up, llama.cpp's defaults for batch sizes and prompt cache, and the support-v2 prompt
with the tool schemas as they were then (a snapshot, since the catalog's descriptions have changed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from activities.llm.llama_settings import LlamaSettings
from activities.toolsets import DEFAULT_TOOLSET, SCHEMAS
from core.models import ToolSchema
from workflows import prompts

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
TOOLS_FILE = Path(__file__).parent / "baseline" / "support_tools_before_19.json"


def tools_before() -> tuple[ToolSchema, ...]:
    return tuple(ToolSchema(**item) for item in json.loads(TOOLS_FILE.read_text()))


@contextmanager
def prompt_before() -> Iterator[None]:
    """Runs started inside use the support-v2 prompt and the old tool schemas; restored on exit.

    The workflow reads both from shared modules (passed through the sandbox), so swapping them here is
    what an older worker would have sent. Only for the bench's own workers, one configuration at a time.
    """
    saved = (prompts.PROMPT_VERSION, prompts.SYSTEM_PROMPT, SCHEMAS[DEFAULT_TOOLSET])
    prompts.PROMPT_VERSION = PROMPT_VERSION
    prompts.SYSTEM_PROMPT = prompts.SYSTEM_PROMPTS[PROMPT_VERSION]
    SCHEMAS[DEFAULT_TOOLSET] = tools_before()
    try:
        yield
    finally:
        prompts.PROMPT_VERSION, prompts.SYSTEM_PROMPT, SCHEMAS[DEFAULT_TOOLSET] = saved
