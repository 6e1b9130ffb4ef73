"""Plan-and-execute contracts: the typed plan a planner call returns, its validation errors, and the
states its steps go through (shown by `trace`, the result and live progress).

A step's arguments may hold references to an earlier step's result, written as a whole string value
`"$s2.transaction_id"` (a field path after the step id): the step then depends on `s2` and receives
that field's value when `s2` is done.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from core.frozen import Frozen

STEP_ID = r"^[A-Za-z][A-Za-z0-9_-]{0,31}$"
# `$<step>.<field>[.<field>…]`, the whole string value; anything else is a plain argument.
REFERENCE = re.compile(r"^\$([A-Za-z][A-Za-z0-9_-]{0,31})\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)$")
Mode = Literal["react", "plan"]


class PlanStep(Frozen):
    id: str = Field(pattern=STEP_ID)
    tool: str = Field(min_length=1, max_length=64)
    # A str when the planner wrote arguments that are not a JSON object: refused by validation.
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    reason: str = Field("", max_length=1000)


class Plan(Frozen):
    steps: tuple[PlanStep, ...] = ()  # none: nothing (more) to do


IssueKind = Literal[
    "unparseable", "duplicate_step", "cycle", "missing_step", "missing_field", "too_many_steps",
    "unknown_tool", "invalid_arguments",
]  # fmt: skip


class PlanIssue(Frozen):
    """One reason a plan was refused before anything ran; sent back to the planner as it is."""

    kind: IssueKind
    step: str | None = None
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the tool ran and failed, or a human denied it, or it was refused in code
    SKIPPED = "skipped"  # a step it depends on did not get done


class StepView(Frozen):
    """One step of one planning round as `trace`, the result and progress show it."""

    round: int
    id: str
    tool: str
    depends_on: tuple[str, ...] = ()
    reason: str = ""
    state: StepState = StepState.PENDING
    call_id: str = ""
    error_type: str | None = None


@dataclass(frozen=True)
class PlanPolicy:
    """How an agent plans: at most `max_steps` steps a plan, and a re-plan after failed steps."""

    max_steps: int = 8
    replans: int = 1  # planning rounds after the first, from the results of failed steps
    # Times a refused plan goes back to the planner with its typed issues before the run ends; more
    # rescues more runs from a planner's mistakes, at more model calls (and spread) per run.
    corrections: int = 1
    # A step naming no tool runs the one read-only tool its arguments fit, if exactly one does
    # (workflows/plan_names.py), instead of going back to the planner for its name.
    resolve_names: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.corrections <= 5:
            raise ValueError(f"corrections must be within 0..5, not {self.corrections}")
        if not 1 <= self.max_steps <= 50:
            raise ValueError(f"max_steps must be within 1..50, not {self.max_steps}")
        if not 0 <= self.replans <= 3:
            raise ValueError(f"replans must be within 0..3, not {self.replans}")


def references(value: Any) -> list[tuple[str, str]]:
    """Every (step id, field path) referred to anywhere inside an argument value."""
    if isinstance(value, str):
        match = REFERENCE.match(value)
        return [(match.group(1), match.group(2))] if match else []
    if isinstance(value, dict):
        return [ref for item in value.values() for ref in references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in references(item)]
    return []


class MissingField(LookupError):
    """A reference to a field the earlier step's result does not have."""


def resolve_references(value: Any, results: dict[str, Any]) -> Any:
    """The value with every reference replaced by the field of the earlier result it names."""
    if isinstance(value, str):
        match = REFERENCE.match(value)
        return field_of(results.get(match.group(1)), match.group(2)) if match else value
    if isinstance(value, dict):
        return {key: resolve_references(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_references(item, results) for item in value]
    return value


def field_of(result: Any, path: str) -> Any:
    current = result
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise MissingField(path)
    return current
