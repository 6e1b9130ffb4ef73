"""Custom search attributes of every run (docs/architecture.md), registered on the server at start."""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

AGENT_STATUS = SearchAttributeKey.for_keyword("AgentStatus")
AGENT_USER = SearchAttributeKey.for_keyword("AgentUser")
AGENT_TURNS = SearchAttributeKey.for_int("AgentTurns")
AGENT_COST_USD = SearchAttributeKey.for_float("AgentCostUsd")
AGENT_PROMPT_VERSION = SearchAttributeKey.for_keyword("AgentPromptVersion")
AGENT_NAME = SearchAttributeKey.for_keyword("AgentName")
# stable, canary or pinned: where the run's prompt version came from (core/agent.py: Channels).
AGENT_PROMPT_CHANNEL = SearchAttributeKey.for_keyword("AgentPromptChannel")
# A fork's parent workflow id, set when `starter.py fork` starts it.
AGENT_FORK_PARENT = SearchAttributeKey.for_keyword("AgentForkParent")
# What a run is started with, so its first state needs no upsert; and every attribute a run
# publishes (a server must know them all).
STARTED_WITH = (AGENT_STATUS, AGENT_USER, AGENT_NAME, AGENT_TURNS, AGENT_COST_USD, AGENT_PROMPT_VERSION)
PUBLISHED = (*STARTED_WITH, AGENT_PROMPT_CHANNEL, AGENT_FORK_PARENT)

# name → `temporal` CLI type, for `temporal server start-dev --search-attribute NAME=TYPE`.
CLI_TYPES: dict[str, str] = {
    AGENT_STATUS.name: "Keyword",
    AGENT_USER.name: "Keyword",
    AGENT_TURNS.name: "Int",
    AGENT_COST_USD.name: "Double",
    AGENT_PROMPT_VERSION.name: "Keyword",
    AGENT_NAME.name: "Keyword",
    AGENT_PROMPT_CHANNEL.name: "Keyword",
    AGENT_FORK_PARENT.name: "Keyword",
}


def at_start(
    user_id: str, agent: str | None = None, prompt_version: str | None = None, fork_parent: str | None = None
) -> TypedSearchAttributes:
    """What a run is started with, so its first state needs no upsert (an upsert is a history event and
    a visibility write: about 3 ms of dev-server CPU each, bench/throughput.py). The agent and its
    prompt version when the starter knows them; the run publishes what it was not started with."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(AGENT_STATUS, "running"),
        SearchAttributePair(AGENT_USER, user_id),
        SearchAttributePair(AGENT_TURNS, 0),
        SearchAttributePair(AGENT_COST_USD, 0.0),
    ]
    if agent is not None:
        pairs.append(SearchAttributePair(AGENT_NAME, agent))
    if prompt_version is not None:
        pairs.append(SearchAttributePair(AGENT_PROMPT_VERSION, prompt_version))
    if fork_parent is not None:
        pairs.append(SearchAttributePair(AGENT_FORK_PARENT, fork_parent))
    return TypedSearchAttributes(pairs)
