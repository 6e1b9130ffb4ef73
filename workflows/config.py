"""A run's configuration: its agent, and the request's settings over the agent's own defaults.

Resolved once, when the run starts, from what the worker serves (core/served.py): a run naming an
agent or a model the worker does not serve is refused there, before any activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio import workflow

from core.agent import PINNED, STABLE, Agent
from core.errors import InvalidInputError
from core.guardrails import ContextSettings, RunBudgets
from core.models import AgentLimits, AgentRequest, ModelSettings
from core.served import Served, served_on


@dataclass(frozen=True)
class RunConfig:
    agent: Agent[Any]
    limits: AgentLimits
    budgets: RunBudgets  # the turn budget always follows limits.max_turns
    context: ContextSettings
    model: ModelSettings
    prompt_version: str
    # stable, canary or pinned; None for a run recorded before channels (it publishes none).
    prompt_channel: str | None = None

    def opening(self, task: str) -> tuple[str, str]:
        """The run's first two messages: the agent's system prompt of this version, and the task."""
        instructions = self.agent.instructions
        return instructions.text(self.prompt_version) or "", instructions.task_template.format(task=task)


# Runs recorded before prompt channels took the agent's current version and published no channel.
# The patch may go once no such run can be replayed (docs/architecture.md, Versioning).
PROMPT_CHANNELS_PATCH = "prompt-channels"


def resolve_here(request: AgentRequest) -> RunConfig:
    """`resolve` inside the running workflow: its task queue's agents, its id, the channels patch."""
    info = workflow.info()
    channels = workflow.patched(PROMPT_CHANNELS_PATCH)
    return resolve(request, served_on(info.task_queue), info.workflow_id, channels)


def resolve(
    request: AgentRequest, served: Served | None, workflow_id: str = "", channels: bool = False
) -> RunConfig:
    """The run's configuration, or InvalidInputError saying what the worker does not serve.

    `channels`: choose the prompt version by the agent's channels (runs recorded before channels
    existed replay with False: the agent's current version, as they ran).
    """
    if served is None:
        raise InvalidInputError("this worker serves no agents on the run's task queue")
    agent = served.agent(request.agent)
    if agent is None:
        raise InvalidInputError(
            f"unknown agent {request.agent!r}: this worker serves {sorted(served.agents)}",
            details={"agent": request.agent, "served": sorted(served.agents)},
        )
    limits = request.limits or agent.limits
    budgets = (request.budgets or agent.budgets).model_copy(update={"max_turns": limits.max_turns})
    model_name = request.model.model or agent.model
    if model_name is not None and served.models and model_name not in served.models:
        raise InvalidInputError(
            f"model {model_name!r} is not served by this worker (it serves {sorted(served.models)})",
            details={"model": model_name, "served": sorted(served.models)},
        )
    prompt_version, channel = _prompt_of(request, agent, workflow_id, channels)
    return RunConfig(
        agent=agent,
        limits=limits,
        budgets=budgets,
        context=request.context or agent.context,
        model=request.model.model_copy(update={"model": model_name}),
        prompt_version=prompt_version,
        prompt_channel=channel if channels else None,
    )


def _prompt_of(request: AgentRequest, agent: Agent[Any], workflow_id: str, channels: bool) -> tuple[str, str]:
    """(version, channel): carried across continue-as-new, pinned by the request, or the channels' pick."""
    carry = request.carry
    if carry is not None and carry.prompt_version:  # a run keeps the version it started with
        return carry.prompt_version, carry.prompt_channel or STABLE
    instructions = agent.instructions
    if request.prompt_version is not None:
        if not instructions.knows(request.prompt_version):
            known = [v.version for v in instructions.versions]
            raise InvalidInputError(
                f"agent {agent.name!r} has no prompt version {request.prompt_version!r} (it has {known})",
                details={"prompt_version": request.prompt_version, "known": known},
            )
        return request.prompt_version, PINNED
    if not channels:
        return instructions.current, STABLE
    return instructions.rollout.choose(workflow_id)
