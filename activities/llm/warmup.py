"""Warms llama.cpp's prefix cache at worker start, so a run's first model call reads only its task.

The system prompt and tool schemas of every agent the worker serves are processed once, before the
worker reports ready. llama.cpp reuses a cached prompt only up to the first token that differs, so a
warm request must render byte-identically to a real first turn up to the task text: it is built as the
workflow builds that turn (the agent's system prompt by version, its tools by reference, the opening of
its task template) and expanded by the same code the activity runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from activities.llm.expand import expanded
from core.agent import Agent
from core.config import ConfigError
from core.errors import ContextOverflowError
from core.models import ChatMessage, LlmRequest, LlmResponse, ModelSettings

log = structlog.get_logger(__name__)

TASK_FIELD = "{task}"
# A run's reply budget by default: a warm prompt that leaves less room than this fits no real turn.
REPLY_TOKENS = ModelSettings().max_output_tokens


class Prefiller(Protocol):
    async def prefill(self, req: LlmRequest) -> LlmResponse: ...


@dataclass(frozen=True)
class Warmed:
    """One warmed prefix: what it was, how many tokens llama.cpp holds for it, what it took."""

    agent: str
    prompt_version: str
    prompt_tokens: int
    seconds: float


def first_turn_prefix(agent: Agent[Any], prompt_version: str | None = None) -> LlmRequest:
    """The agent's first turn at `prompt_version` (its current one), the user message cut where the
    task begins."""
    task_template = agent.instructions.task_template
    opening, found, _ = task_template.partition(TASK_FIELD)
    if not found:
        raise ValueError(f"task template has no {TASK_FIELD} field: {task_template!r}")
    by_reference = LlmRequest(
        workflow_id="warm-up",
        turn=1,
        prompt_version=prompt_version or agent.instructions.current,
        agent=agent.name,
        tools_of_agent=bool(agent.tools),
        system_by_version=True,
        messages=(ChatMessage(role="user", content=opening),),
    )
    return expanded(by_reference, {agent.name: agent})


def served_prefixes(agents: Sequence[Agent[Any]]) -> tuple[LlmRequest, ...]:
    """The first-turn prefixes of the agents a worker serves, at their current prompt versions."""
    return tuple(first_turn_prefix(agent) for agent in agents)


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
        what = f"the {req.agent} agent's {req.prompt_version} prompt and tools"
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
        item = Warmed(req.agent or "", req.prompt_version, tokens, round(time.monotonic() - started, 2))
        log.info("local_model.warmed", **item.__dict__)
        warmed.append(item)
    return warmed
