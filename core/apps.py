"""Which agent definitions a deployment serves: `AGENT_APPS=package.module:NAME,…`.

A team's own package needs no edit to this repo: it defines an `Agent` in its module and names it
here. Each entry is imported at worker start; one that cannot be imported, or is not an Agent, stops
the worker with one line naming the entry.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from core.agent import Agent, AgentEnv
from core.config import ConfigError

ENTRY = "package.module:NAME"


def load_agents(spec: str) -> list[Agent[Any]]:
    """The agents named by an AGENT_APPS value, in order; ConfigError names a bad entry."""
    entries = [part.strip() for part in spec.split(",") if part.strip()]
    if not entries:
        raise ConfigError(f"AGENT_APPS is empty: name at least one agent as {ENTRY}")
    agents = [load_agent(entry) for entry in entries]
    names = [agent.name for agent in agents]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ConfigError(f"AGENT_APPS: two agents are named {duplicated[0]!r}")
    return agents


def load_agent(entry: str) -> Agent[Any]:
    module_name, sep, attribute = entry.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"AGENT_APPS entry {entry!r}: expected {ENTRY}")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import failure of a user's module means the same: it cannot be served
        raise ConfigError(f"AGENT_APPS entry {entry!r}: cannot import {module_name}: {exc}") from None
    found = getattr(module, attribute, None)
    if not isinstance(found, Agent):
        kind = "nothing" if found is None else type(found).__name__
        raise ConfigError(f"AGENT_APPS entry {entry!r}: {module_name}.{attribute} is {kind}, not an Agent")
    return found


@asynccontextmanager
async def opened_deps(agents: Sequence[Agent[Any]], env: AgentEnv) -> AsyncIterator[dict[str, Any]]:
    """Each agent's dependencies, built once for the worker's life and closed when it stops."""
    async with AsyncExitStack() as stack:
        deps = {
            agent.name: await stack.enter_async_context(agent.deps(env)) if agent.deps else None
            for agent in agents
        }
        yield deps
