"""Eval cases as YAML files: `evals/<agent>/<category>.yaml`, typed, with errors that point at the line.

    category: refunds            # optional; the file's name otherwise
    cases:
      - id: duplicate-refunded
        task: "MID001: pay_ABC123 was charged twice, refund the duplicate."
        user: MID001
        approvals: [{tool: initiate_refund, decision: approve}]
        expect:
          status: completed
          tools: {called: [get_transaction, initiate_refund], not_called: [escalate_to_human],
                  args: [{tool: initiate_refund, with: {transaction_id: pay_ABC124}}]}
          answer: {contains: [pay_ABC124], not_contains: [pay_ABC123 was refunded], numbers: ["49.99"]}
          side_effects: {refunds: 1}     # rows this run created, per table; a table not named: none
          limits: {max_turns: 4, max_cost_usd: 0.01}

`load_dir` raises CaseFileError naming the file, the line and the field of the first mistake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import InvalidInputError
from core.models import RunState

CASE_ID = r"^[a-z0-9][a-z0-9_.-]{0,79}$"
# What the runner reports when it cancelled a run that waited for a human's reply to its escalation.
ESCALATED = "escalated"


class _Strict(BaseModel):
    # A misspelt key is an error, not a check silently skipped.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Approval(_Strict):
    """The human decision to take at one approval, in the order the run asks for them."""

    tool: str
    decision: Literal["approve", "deny"]
    reason: str = "eval decision"


class ArgsCheck(_Strict):
    tool: str
    with_: dict[str, Any] = Field(alias="with")


class ToolChecks(_Strict):
    called: tuple[str, ...] = ()
    not_called: tuple[str, ...] = ()
    args: tuple[ArgsCheck, ...] = ()


class AnswerChecks(_Strict):
    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()  # each must appear as a whole number in the answer, e.g. "49.99"


class LimitChecks(_Strict):
    max_turns: int | None = Field(None, ge=1)
    max_cost_usd: float | None = Field(None, ge=0)


Status = Literal[
    "completed", "denied", "escalated", "escalated_unresolved", "loop_detected", "budget_exhausted",
    "failed", "cancelled",
]  # fmt: skip


class Expect(_Strict):
    status: Status | None = None
    tools: ToolChecks = ToolChecks()
    answer: AnswerChecks = AnswerChecks()
    # Table → rows this run created (keyed by its workflow id); every other table: none.
    side_effects: dict[str, int] = Field(default_factory=dict)
    limits: LimitChecks = LimitChecks()


class HumanReply(_Strict):
    """What the human answers an escalation with; without one the runner stops the waiting run."""

    text: str = Field(min_length=1)
    resume: bool = False


class EvalCase(_Strict):
    id: str = Field(pattern=CASE_ID)
    task: str = Field(min_length=1)
    user: str = "eval"
    category: str = ""  # the file's category unless set
    adversarial: bool = False
    max_turns: int = Field(8, ge=1, le=50)
    approvals: tuple[Approval, ...] = ()
    human_reply: HumanReply | None = None
    expect: Expect = Expect()
    source: str = ""  # "file:line", filled by the loader


class CaseFile(_Strict):
    category: str | None = None
    cases: tuple[EvalCase, ...] = Field(min_length=1)


class CaseFileError(InvalidInputError):
    """A malformed eval file: which file, which line, which field, and what is wrong."""

    def __init__(self, path: Path, line: int, field: str, problem: str) -> None:
        where = f"{path}:{line}"
        super().__init__(
            f"{where}: {field}: {problem}" if field else f"{where}: {problem}",
            details={"file": str(path), "line": line, "field": field, "problem": problem},
        )
        self.path, self.line, self.field = path, line, field


def load_file(path: Path) -> list[EvalCase]:
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise CaseFileError(path, (mark.line + 1) if mark else 1, "", str(err.problem)) from None
    if not isinstance(data, dict):
        raise CaseFileError(path, 1, "", "expected a mapping with `cases:` (a list of cases)")
    try:
        parsed = CaseFile.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(first["loc"])
        field = ".".join(str(part) for part in loc)
        raise CaseFileError(path, _line_of(node, loc), field, first["msg"]) from None
    category = parsed.category or path.stem
    cases = []
    for index, case in enumerate(parsed.cases):
        line = _line_of(node, ("cases", index))
        cases.append(
            case.model_copy(update={"category": case.category or category, "source": f"{path}:{line}"})
        )
    return cases


def load_dir(directory: Path) -> list[EvalCase]:
    """Every case of `directory/*.yaml`, in file then case order; case ids are unique per agent."""
    cases: list[EvalCase] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        for case in load_file(path):
            if case.id in seen:
                line = int(case.source.rpartition(":")[2])
                raise CaseFileError(path, line, "id", f"case {case.id!r} is also defined at {seen[case.id]}")
            seen[case.id] = case.source
            cases.append(case)
    if not cases:
        raise InvalidInputError(f"no eval cases in {directory} (expected *.yaml files)")
    return cases


def _line_of(node: Any, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the deepest node along `loc` (a pydantic error location) that exists."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, yaml.MappingNode):
        return next((value for key, value in node.value if key.value == str(part)), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None


def final_status(status: RunState, waited_for_human: bool) -> str:
    """The status a case is judged on: a run stopped while it waited for a human reads `escalated`."""
    return ESCALATED if waited_for_human else status.value
