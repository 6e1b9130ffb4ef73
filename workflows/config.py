"""A run's configuration: its agent, and the request's settings over the agent's own defaults.

Resolved once, when the run starts, from what the worker serves (core/served.py): a run naming an
agent or a model the worker does not serve is refused there, before any activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.agent import Agent
from core.errors import InvalidInputError
from core.guardrails import ContextSettings, RunBudgets
from core.models import AgentLimits, AgentRequest, ModelSettings
from core.served import Served


@dataclass(frozen=True)
class RunConfig:
    agent: Agent[Any]
    limits: AgentLimits
    budgets: RunBudgets  # the turn budget always follows limits.max_turns
    context: ContextSettings
    model: ModelSettings
    prompt_version: str

    def opening(self, task: str) -> tuple[str, str]:
        """The run's first two messages: the agent's system prompt of this version, and the task."""
        instructions = self.agent.instructions
        return instructions.text(self.prompt_version) or "", instructions.task_template.format(task=task)


def resolve(request: AgentRequest, served: Served | None) -> RunConfig:
    """The run's configuration, or InvalidInputError saying what the worker does not serve."""
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
    carried = request.carry.prompt_version if request.carry else ""
    prompt_version = carried or agent.instructions.current  # a run keeps the version it started with
    return RunConfig(
        agent=agent,
        limits=limits,
        budgets=budgets,
        context=request.context or agent.context,
        model=request.model.model_copy(update={"model": model_name}),
        prompt_version=prompt_version,
    )
