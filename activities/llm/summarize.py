"""The `llm.summarize` activity: fold old turns into the running summary without losing a single fact.

The model writes the summary; code then checks that every identifier (what the agent's `keep_exact`
patterns match: ids, amounts) and every tool-call argument value of the input appears in it
verbatim, and appends whatever is missing as "Facts kept verbatim:". A paraphrasing model can shorten
the story, never the facts. `keep_facts` is pure, so the workflow can also fold without a model.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import structlog
from temporalio import activity

from activities.heartbeat import heartbeating
from activities.llm.registry import LlmProvider, ModelRegistry
from core.agent import Agent
from core.errors import AgentError, TransientError
from core.llm import ChatMessage, LlmRequest, SummarizeRequest, SummarizeResult

log = structlog.get_logger(__name__)

SUMMARIZE_PROMPT_VERSION = "summarize-v1"
FACTS_HEADER = "Facts kept verbatim:"
# Call ids (`t<turn>-<n>`) are the engine's own; an agent adds its identifiers (Agent.keep_exact).
CALL_ID = r"\bt\d+-\d+\b"
INSTRUCTIONS = (
    "You maintain the running summary of a case handled by an agent. Fold the new turns into the "
    "previous summary. Keep every tool call with its exact arguments, every identifier and every "
    "amount exactly as written; say what was found, what was done and what is still open. Plain "
    "text, at most 200 words, no preamble."
)


def render_turns(turns: tuple[ChatMessage, ...]) -> str:
    """The turns as plain text the summarizer reads; tool calls with their exact JSON arguments."""
    lines: list[str] = []
    for message in turns:
        if message.content:
            who = (
                f"tool {message.name or ''} ({message.tool_call_id or ''})" if message.role == "tool" else ""
            )
            lines.append(f"[{who or message.role}] {message.content}")
        for call in message.tool_calls:
            lines.append(f"[call {call.id}] {call.name}({_args_text(call.arguments)})")
    return "\n".join(lines)


def identifiers(keep_exact: tuple[str, ...] = ()) -> re.Pattern[str]:
    """One pattern for the engine's call ids and the agent's own identifiers."""
    return _compiled((CALL_ID, *keep_exact))


@functools.lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def required_facts(
    previous_summary: str, turns: tuple[ChatMessage, ...], keep_exact: tuple[str, ...] = ()
) -> list[str]:
    """Every fact the summary must contain, in order of first appearance, without duplicates."""
    facts = _listed_facts(previous_summary)
    pattern = identifiers(keep_exact)
    for text in (previous_summary, *(m.content for m in turns)):
        facts.extend(match.group(0) for match in pattern.finditer(text))
    for message in turns:
        for call in message.tool_calls:
            facts.extend(f"{call.name}.{name}={value}" for name, value in _scalars(call.arguments))
    return list(dict.fromkeys(facts))


def _listed_facts(summary: str) -> list[str]:
    """The facts an earlier fold restored: they stay required in every later fold."""
    _, found, listed = summary.partition(FACTS_HEADER)
    if not found:
        return []
    return [line[2:].strip() for line in listed.splitlines() if line.startswith("- ") and line[2:].strip()]


def keep_facts(
    summary: str, previous_summary: str, turns: tuple[ChatMessage, ...], keep_exact: tuple[str, ...] = ()
) -> tuple[str, int]:
    """The summary with every missing fact appended verbatim, and how many were missing."""
    required = required_facts(previous_summary, turns, keep_exact)
    missing = [fact for fact in required if not _present(fact, summary)]
    if not missing:
        return summary, 0
    listed = "\n".join(f"- {fact}" for fact in missing)
    return f"{summary.rstrip()}\n{FACTS_HEADER}\n{listed}".strip(), len(missing)


def _present(fact: str, summary: str) -> bool:
    # A tool-call fact counts as present when its value is: "get_transaction.transaction_id=pay_1".
    name, sep, value = fact.partition("=")
    return fact in summary or (bool(sep) and "." in name and value in summary)


def _scalars(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [
            pair
            for k, v in value.items()
            for pair in _scalars(v, f"{prefix}{k}" if not prefix else f"{prefix}.{k}")
        ]
    if isinstance(value, list):
        return [pair for i, v in enumerate(value) for pair in _scalars(v, f"{prefix}[{i}]")]
    if value is None or isinstance(value, bool) or value == "":
        return []
    return [(prefix, str(value))]


def _args_text(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in _scalars(arguments))


def summarize_request(req: SummarizeRequest) -> LlmRequest:
    previous = req.previous_summary.strip() or "(none yet)"
    user = f"Previous summary:\n{previous}\n\nNew turns to fold in:\n{render_turns(req.turns)}"
    return LlmRequest(
        workflow_id=req.workflow_id,
        turn=0,
        messages=(ChatMessage(role="system", content=INSTRUCTIONS), ChatMessage(role="user", content=user)),
        settings=req.settings,
        prompt_version=SUMMARIZE_PROMPT_VERSION,
        price=req.price,
    )


class SummarizeActivities:
    """The same models and agents as LlmActivities; registered as `llm.summarize`."""

    def __init__(
        self, models: ModelRegistry | LlmProvider, agents: Mapping[str, Agent[Any]] | None = None
    ) -> None:
        self.models = models if isinstance(models, ModelRegistry) else ModelRegistry.single(models)
        self.agents = agents or {}  # whose prompts a request may name by reference

    @activity.defn(name="llm.summarize")
    async def summarize(self, req: SummarizeRequest) -> SummarizeResult:
        agent = self.agents.get(req.agent or "")
        keep_exact = agent.keep_exact if agent is not None else ()
        try:
            provider, routed = self.models.route(summarize_request(req))
            response = await heartbeating(provider.complete(routed))
        except AgentError as err:
            log.warning("llm.summarize.error", workflow_id=req.workflow_id, error_type=err.type_name)
            raise err.to_application_error() from err
        except Exception as exc:
            log.error(
                "llm.summarize.unclassified", workflow_id=req.workflow_id, error_type=type(exc).__name__
            )
            raise TransientError(
                f"unclassified {type(exc).__name__} in llm.summarize"
            ).to_application_error() from exc
        summary, restored = keep_facts(response.content.strip(), req.previous_summary, req.turns, keep_exact)
        log.info(
            "llm.summarize",
            workflow_id=req.workflow_id,
            turns=len(req.turns),
            chars=len(summary),
            restored=restored,
        )
        return SummarizeResult(
            summary=summary,
            usage=response.usage,
            cost_usd=response.cost_usd,
            model=response.model,
            restored=restored,
        )
