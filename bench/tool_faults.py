"""Fault injection around tool attempts, for tests and benchmarks (activities/tools/activities.ToolHooks)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from core.errors import DependencyDownError, TransientError


@dataclass(frozen=True)
class ToolFaults:
    """Fault injection for tests and benchmarks.

    `fail_after_side_effect[tool] = n`: attempts 1..n raise TransientError after the handler has
    completed, like a worker that wrote the refund and died before reporting it.
    `down`: tools whose dependency is down: the handler is not invoked, DependencyDownError is raised.
    `dependency_calls[tool]`: attempts that reached the tool's dependency (down or not), which is what
    an open circuit must keep from growing.
    """

    fail_after_side_effect: dict[str, int] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    dependency_calls: Counter[str] = field(default_factory=Counter)

    def reach(self, tool: str) -> None:
        self.dependency_calls[tool] += 1
        if tool in self.down:
            raise DependencyDownError(f"injected fault: the dependency of {tool} is down")

    def after_handler(self, tool: str, attempt: int) -> None:
        if attempt <= self.fail_after_side_effect.get(tool, 0):
            raise TransientError(f"injected fault: {tool} attempt {attempt} lost after its side effect")
