"""Puts back the static part of a prompt that the workflow sent by reference (LlmRequest.agent with
`tools_of_agent` and `system_by_version`): the agent's tool schemas and its system prompt of the
request's version, from the agent definitions this worker serves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.agent import Agent
from core.errors import InvalidInputError
from core.llm import ChatMessage, LlmRequest
from workflows.observations import succeeded


def expanded(req: LlmRequest, agents: Mapping[str, Agent[Any]]) -> LlmRequest:
    """The request as the provider must see it; InvalidInputError names a reference this worker lacks."""
    if not (req.tools_of_agent or req.system_by_version):
        return req
    agent = agents.get(req.agent or "")
    if agent is None:
        raise InvalidInputError(f"unknown agent {req.agent!r}: this worker serves {sorted(agents)}")
    update: dict[str, Any] = {"tools_of_agent": False, "system_by_version": False}
    if req.tools_of_agent and not req.tools:
        update["tools"] = agent.schemas
    if req.system_by_version:
        text = agent.instructions.text(req.prompt_version)
        if text is None:
            known = [v.version for v in agent.instructions.versions]
            raise InvalidInputError(
                f"agent {agent.name!r} has no prompt version {req.prompt_version!r} (it has {known})"
            )
        update["messages"] = (
            ChatMessage(role="system", content=text),
            *req.messages,
            *_after_action(agent, req.prompt_version, req.messages),
        )
    return req.model_copy(update=update)


def _after_action(
    agent: Agent[Any], version: str, messages: tuple[ChatMessage, ...]
) -> tuple[ChatMessage, ...]:
    """The version's after_action reminder when the last turn's results include a call with side
    effects that succeeded (a refund, a ticket). Only here, at the end: the prompt before it stays
    what the model server cached, and the reminder never enters the run's history."""
    found = agent.instructions.version(version)
    if found is None or not found.after_action:
        return ()
    acting = {spec.name for spec in agent.tools if spec.irreversible or spec.side_effect}
    for message in reversed(messages):
        if message.role != "tool":
            break
        if message.name in acting and succeeded(message.content):
            return (ChatMessage(role="user", content=found.after_action),)
    return ()
