"""Resolving a plan step's misnamed tool in code, from its arguments, before the plan is checked.

A planner that names a tool that does not exist mostly means one that does: it wrote the arguments it
read in the catalogue under a name it made up (`search_web` for `web_search`). Sending the name back
costs a model call, and that call can go wrong the same way, so the run's length would depend on the
model's mistakes. When a step's arguments are valid for exactly one of the agent's tools, and that
tool is read-only (neither irreversible nor with side effects), the step runs that tool and the
resolution is shown (trace, progress). Otherwise the name goes back to the planner as an
`unknown_tool` issue: a tool that changes anything is only ever run under its exact name.

Pure: a plan and the agent's tools in, the resolved plan and what was resolved out.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.plans import Plan
from core.toolspec import ToolRegistry
from workflows.plan_check import argument_errors


@dataclass(frozen=True)
class Resolution:
    step: str
    asked: str  # the name the planner wrote
    tool: str  # the tool the step runs

    def label(self) -> str:
        return f"{self.step}: {self.asked} → {self.tool}"


def resolve_names(plan: Plan, registry: ToolRegistry) -> tuple[Plan, list[Resolution]]:
    """The plan with each misnamed step whose arguments fit one read-only tool only renamed to it."""
    known = set(registry.names())
    steps, resolved = [], []
    for step in plan.steps:
        tool = None if step.tool in known else only_fit(step.arguments, registry)
        if tool is None:
            steps.append(step)
            continue
        resolved.append(Resolution(step=step.id, asked=step.tool, tool=tool))
        steps.append(step.model_copy(update={"tool": tool}))
    return Plan(steps=tuple(steps)), resolved


def only_fit(arguments: object, registry: ToolRegistry) -> str | None:
    """The one tool these arguments are valid for, if it is read-only; None when none, several, or a
    tool with effects fit them."""
    if not isinstance(arguments, dict):
        return None
    fits = [spec for spec in registry if not argument_errors(spec, arguments)]
    if len(fits) != 1 or fits[0].irreversible or fits[0].side_effect:
        return None
    return fits[0].name
