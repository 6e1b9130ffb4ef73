"""What one side of an eval runs: an agent at a prompt version, on a model (scripted, local or hosted).

Prompt versions are the agent's own (`agents/<name>/prompts/`) plus the candidates kept beside its
cases (`evals/<name>/prompts/`), so a version can be tried by the suite before it ships.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from activities.llm.models_from_env import open_models
from activities.llm.registry import ModelRegistry
from core.agent import Agent, Instructions
from core.config import ConfigError, Settings
from core.errors import InvalidInputError

EVALS = Path(__file__).parent
PROVIDER_MODELS = ("scripted", "local")  # any other name: a hosted model (LLM_PROVIDER=openai)


def cases_dir(agent: str) -> Path:
    return EVALS / agent


def versions_of(agent: Agent[Any]) -> Instructions:
    """The agent's prompt versions and the candidates under evals/<agent>/prompts/, current unchanged."""
    extra_dir = cases_dir(agent.name) / "prompts"
    own = agent.instructions
    if not extra_dir.is_dir() or not any(extra_dir.glob("*.md")):
        return own
    extra = Instructions.from_dir(extra_dir, current=sorted(extra_dir.glob("*.md"))[0].stem)
    known = {v.version for v in own.versions}
    clash = sorted(v.version for v in extra.versions if v.version in known)
    if clash:
        raise ConfigError(f"{extra_dir}: versions {clash} are already the agent's own")
    return dataclasses.replace(own, versions=own.versions + extra.versions)


def with_version(agent: Agent[Any], version: str | None) -> Agent[Any]:
    """The agent at `version` (its current one when None); InvalidInputError names the known ones."""
    instructions = versions_of(agent)
    if version is None:
        return agent
    names = [v.version for v in instructions.versions]
    if version not in names:
        raise InvalidInputError(
            f"unknown prompt version {version!r} of {agent.name}: known {names}",
            details={"agent": agent.name, "version": version, "known": names},
        )
    # Pinned: no canary share of the served channels picks another version for an eval's runs.
    pinned = dataclasses.replace(instructions, current=version, channels=None)
    return dataclasses.replace(agent, instructions=pinned)


def is_version(agent: Agent[Any], name: str) -> bool:
    return name in {v.version for v in versions_of(agent).versions}


def model_settings(model: str, env: dict[str, str] | None = None) -> tuple[Settings, dict[str, str]]:
    """Settings of a worker serving `model`: `scripted`, `local`, or a hosted model's name."""
    env = dict(os.environ if env is None else env)
    if model in PROVIDER_MODELS:
        env["LLM_PROVIDER"] = model
    else:
        env.update(LLM_PROVIDER="openai", LLM_MODEL=model)
    env.pop("AGENT_MODELS", None)  # one model per side: the comparison is of exactly that model
    return Settings.from_env(env), env


@asynccontextmanager
async def opened_model(model: str, agents: list[Agent[Any]]) -> AsyncIterator[ModelRegistry]:
    """The model's registry, open for the eval (a local model is started and warmed once)."""
    settings, env = model_settings(model)
    async with open_models(settings, agents, env) as registry:
        yield registry
