"""Warms llama.cpp's prefix cache at worker start, so a run's first model call reads only its task.

The system prompt and tool schemas of every agent the worker serves are processed once, before the
worker reports ready. llama.cpp reuses a cached prompt only up to the first token that differs, so a
warm request must render byte-identically to a real first turn up to the task text: it is built as the
workflow builds that turn (system prompt by version, toolset by name, the task template's opening) and
expanded by the same code the activity runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from activities.llm.expand import expanded
from activities.toolsets import DEFAULT_TOOLSET
from core.config import ConfigError
from core.errors import ContextOverflowError
from core.models import ChatMessage, LlmRequest, LlmResponse, ModelSettings
from workflows.prompts import PROMPT_VERSION, TASK_TEMPLATE

log = structlog.get_logger(__name__)

TASK_FIELD = "{task}"
# A run's reply budget by default: a warm prompt that leaves less room than this fits no real turn.
REPLY_TOKENS = ModelSettings().max_output_tokens


class Prefiller(Protocol):
    async def prefill(self, req: LlmRequest) -> LlmResponse: ...


@dataclass(frozen=True)
class Warmed:
    """One warmed prefix: what it was, how many tokens llama.cpp holds for it, what it took."""

    prompt_version: str
    toolset: str | None
    prompt_tokens: int
    seconds: float


def first_turn_prefix(prompt_version: str, toolset: str | None, task_template: str) -> LlmRequest:
    """A first turn of `prompt_version` with `toolset`, its user message cut where the task begins."""
    opening, found, _ = task_template.partition(TASK_FIELD)
    if not found:
        raise ValueError(f"task template has no {TASK_FIELD} field: {task_template!r}")
    by_reference = LlmRequest(
        workflow_id="warm-up",
        turn=1,
        prompt_version=prompt_version,
        toolset=toolset,
        system_by_version=True,
        messages=(ChatMessage(role="user", content=opening),),
    )
    return expanded(by_reference)


def served_prefixes() -> tuple[LlmRequest, ...]:
    """The first-turn prefixes of the agents this worker serves (today one: the support agent)."""
    return (first_turn_prefix(PROMPT_VERSION, DEFAULT_TOOLSET, TASK_TEMPLATE),)


async def warm(
    provider: Prefiller,
    requests: Sequence[LlmRequest],
    *,
    context_tokens: int,
    reply_tokens: int = REPLY_TOKENS,
) -> list[Warmed]:
    """Prefill each request in turn; ConfigError when one leaves no room in a slot for a reply."""
    warmed = []
    for req in requests:
        what = f"the {req.prompt_version} prompt with the {req.toolset or 'no'} tools"
        started = time.monotonic()
        try:
            reply = await provider.prefill(req)
        except ContextOverflowError as exc:
            raise ConfigError(
                f"llama.cpp context of {context_tokens} tokens cannot hold {what}: {exc}"
            ) from None
        tokens = reply.usage.prompt_tokens
        if tokens + reply_tokens > context_tokens:
            raise ConfigError(
                f"llama.cpp context of {context_tokens} tokens (AGENT_LLAMA_CTX) is too small: {what} takes "
                f"{tokens} tokens before any task, and a reply up to {reply_tokens} more"
            )
        item = Warmed(req.prompt_version, req.toolset, tokens, round(time.monotonic() - started, 2))
        log.info("local_model.warmed", **item.__dict__)
        warmed.append(item)
    return warmed
