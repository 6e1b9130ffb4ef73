"""Which agents and models a worker serves, handed to the workflow by task queue.

A workflow cannot be given Python objects (its input is data in history), and the sandbox re-imports
the workflow's own modules, so the worker records what it serves here, in a module every workflow
imports passed through the sandbox: the sandboxed and the unsandboxed runners then see the same
objects. It is keyed by task queue because Temporal already requires every worker of one queue to
serve the same code: a run looks up its own queue (`workflow.info().task_queue`), so two workers in
one process (tests, benches) keep their agents apart. A Replayer sets the fallback (`for_replay`).
Written once at worker start, read-only after: replaying a run sees the same definitions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.agent import Agent


class ServingError(ValueError):
    """What a worker was asked to serve is inconsistent; raised at worker start."""


@dataclass(frozen=True)
class Served:
    agents: Mapping[str, Agent[Any]]
    models: frozenset[str] = frozenset()  # names a run may ask for; the default model is always served
    default_agent: str = ""

    @classmethod
    def of(cls, agents: Sequence[Agent[Any]], models: Sequence[str] = ()) -> Served:
        if not agents:
            raise ServingError("a worker must serve at least one agent")
        by_name: dict[str, Agent[Any]] = {}
        for agent in agents:
            if agent.name in by_name:
                raise ServingError(f"two agents are named {agent.name!r}")
            by_name[agent.name] = agent
        return cls(agents=by_name, models=frozenset(models), default_agent=agents[0].name)

    def agent(self, name: str | None) -> Agent[Any] | None:
        return self.agents.get(name or self.default_agent)


_BY_QUEUE: dict[str, Served] = {}
_FOR_REPLAY: list[Served] = []


def serve(task_queue: str, served: Served) -> None:
    """Record what the worker of `task_queue` serves (replacing an earlier worker's record)."""
    _BY_QUEUE[task_queue] = served


def for_replay(served: Served) -> None:
    """What runs of any queue without a worker in this process resolve to (Replayers, tools)."""
    _FOR_REPLAY[:] = [served]


def served_on(task_queue: str) -> Served | None:
    return _BY_QUEUE.get(task_queue) or (_FOR_REPLAY[0] if _FOR_REPLAY else None)
