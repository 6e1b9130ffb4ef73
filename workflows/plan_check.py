"""Checking a plan in code before any step runs: a refused plan never reaches a tool.

Pure: the planner's text in, a `Plan` or the typed `PlanIssue`s that go back to the planner out.
Refused: text that is no plan, duplicate step ids, more steps than the policy or the run's tool-call
budget allows, unknown tools (with the closest real names), arguments that fail the tool's model,
references to a missing step or to a field its tool's result does not have, and cycles.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ValidationError

from core.errors import AgentError
from core.llm import ToolCall
from core.plans import Plan, PlanIssue, PlanStep, references
from core.toolspec import ToolRegistry, ToolSpec

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def parse(text: str) -> Plan | PlanIssue:
    """The plan in the planner's reply: a JSON object `{"steps": [...]}`, fenced or not."""
    body = _FENCE.sub("", text.strip())
    start, end = body.find("{"), body.rfind("}")
    try:
        return Plan.model_validate(json.loads(body[start : end + 1] if start >= 0 else body))
    except (ValueError, ValidationError) as err:
        where = (
            err.errors(include_url=False, include_input=False)[:5] if isinstance(err, ValidationError) else []
        )
        detail = [{"field": ".".join(str(p) for p in e["loc"]), "error": e["msg"]} for e in where]
        return PlanIssue(kind="unparseable", message=f"the reply is not a plan: {str(err)[:200]}",
                         details={"fields": detail} if detail else {})  # fmt: skip


def calls_as_plan(calls: tuple[ToolCall, ...]) -> Plan:
    """A planner that answered with tool calls instead of a plan: its calls, as independent steps."""
    steps = tuple(
        PlanStep(id=f"s{n}", tool=c.name[:64] or "?", arguments=c.arguments_error or c.arguments)
        for n, c in enumerate(calls, start=1)
    )
    return Plan(steps=steps)


def check(plan: Plan, registry: ToolRegistry, max_steps: int) -> list[PlanIssue]:
    """Every issue of the plan; an empty list means it may run."""
    issues: list[PlanIssue] = []
    ids = [step.id for step in plan.steps]
    if len(plan.steps) > max_steps:
        message = f"the plan has {len(plan.steps)} steps; at most {max_steps} are allowed"
        issues.append(PlanIssue(kind="too_many_steps", message=message, details={"max_steps": max_steps}))
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        issues.append(PlanIssue(kind="duplicate_step", message=f"step ids used twice: {duplicates}"))
    by_id = {step.id: step for step in plan.steps}
    for step in plan.steps:
        issues += _step_issues(step, by_id, registry)
    cycle = find_cycle(plan)
    if cycle:
        issues.append(PlanIssue(kind="cycle", message=f"depends_on forms a cycle: {' → '.join(cycle)}"))
    return issues


def dependencies(step: PlanStep) -> tuple[str, ...]:
    """The steps a step waits for: those it names, and those its arguments refer to."""
    referred = [ref for ref, _ in references(step.arguments)] if isinstance(step.arguments, dict) else []
    return tuple(dict.fromkeys([*step.depends_on, *referred]))


def _step_issues(step: PlanStep, by_id: dict[str, PlanStep], registry: ToolRegistry) -> list[PlanIssue]:
    issues = [
        PlanIssue(
            kind="missing_step", step=step.id, message=f"{step.id} depends on {dep}, which is not a step"
        )
        for dep in dependencies(step)
        if dep not in by_id
    ]
    try:
        spec = registry.get(step.tool)
    except AgentError as err:
        return [
            *issues,
            PlanIssue(kind="unknown_tool", step=step.id, message=err.message, details=err.details),
        ]
    if not isinstance(step.arguments, dict):
        message = f"arguments for {step.tool} are not a JSON object"
        return [*issues, PlanIssue(kind="invalid_arguments", step=step.id, message=message)]
    issues += _field_issues(step, by_id, registry)
    invalid = argument_errors(spec, step.arguments)
    if invalid:
        message = f"invalid arguments for {step.tool}"
        issues.append(
            PlanIssue(kind="invalid_arguments", step=step.id, message=message, details={"fields": invalid})
        )
    return issues


def _field_issues(step: PlanStep, by_id: dict[str, PlanStep], registry: ToolRegistry) -> list[PlanIssue]:
    issues = []
    for ref, path in references(step.arguments):
        source = by_id.get(ref)
        model = _result_model(registry, source.tool) if source is not None else None
        head = path.split(".")[0]
        if model is not None and head not in model.model_fields:
            message = (
                f"{step.id} refers to ${ref}.{path}, but {source.tool if source else ref} returns no {head!r}"
            )
            fields = sorted(model.model_fields)
            issues.append(
                PlanIssue(kind="missing_field", step=step.id, message=message, details={"fields": fields})
            )
    return issues


def _result_model(registry: ToolRegistry, tool: str) -> type[BaseModel] | None:
    return next((spec.result_model for spec in registry if spec.name == tool), None)


def argument_errors(spec: ToolSpec, arguments: dict[str, Any]) -> list[dict[str, str]]:
    """The field errors of these arguments, leaving out fields filled by a reference (checked when
    the earlier step is done and the value is known)."""
    referred = {key for key, value in arguments.items() if references(value)}
    try:
        spec.args_model.model_validate(arguments)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        return [
            {"field": ".".join(str(p) for p in err["loc"]) or "(root)", "error": err["msg"]}
            for err in errors
            if not (err["loc"] and err["loc"][0] in referred)
        ]
    return []


def find_cycle(plan: Plan) -> list[str]:
    """One cycle of `depends_on` (its step ids, the first repeated at the end), or [] if none."""
    graph = {step.id: [d for d in dependencies(step)] for step in plan.steps}
    state: dict[str, int] = {}  # 1 on the current path, 2 finished

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = 1
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep] if dep in path else [node, dep]
            if dep in graph and dep not in state:
                found = visit(dep, [*path, dep])
                if found:
                    return found
        state[node] = 2
        return []

    for node in graph:
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return []
