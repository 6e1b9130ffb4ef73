"""Custom search attributes of every run (DESIGN §4), registered on the server at start."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

AGENT_STATUS = SearchAttributeKey.for_keyword("AgentStatus")
AGENT_USER = SearchAttributeKey.for_keyword("AgentUser")
AGENT_TURNS = SearchAttributeKey.for_int("AgentTurns")
AGENT_COST_USD = SearchAttributeKey.for_float("AgentCostUsd")
AGENT_PROMPT_VERSION = SearchAttributeKey.for_keyword("AgentPromptVersion")

# name → `temporal` CLI type, for `temporal server start-dev --search-attribute NAME=TYPE`.
CLI_TYPES: dict[str, str] = {
    AGENT_STATUS.name: "Keyword",
    AGENT_USER.name: "Keyword",
    AGENT_TURNS.name: "Int",
    AGENT_COST_USD.name: "Double",
    AGENT_PROMPT_VERSION.name: "Keyword",
}
