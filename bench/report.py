"""Per-task records, their aggregates, and the printed tables."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field

from core.errors import ERRORS_BY_NAME


class RetryRecord(BaseModel):
    """One retry: which call, the error class it answered, and whether it was useful."""

    call: str
    tool: str
    error_type: str
    useful: bool


class TaskRecord(BaseModel):
    agent: str
    hallucination_rate: float
    task_id: int
    kind: str
    success: bool
    status: str
    failure_reason: str | None = None
    steps: int
    latency_ms: float
    tokens: int
    retries: list[RetryRecord] = Field(default_factory=list)
    errors: dict[str, int] = Field(default_factory=dict)
    answer: str = ""
    degraded: int = 0  # tool results served by a fallback while the primary was down
    workflow_id: str | None = None

    @property
    def wasted(self) -> int:
        return sum(not r.useful for r in self.retries)


def failure_reason(status: str, answer: str, expected: str, last_error: str | None) -> str | None:
    """None when the task succeeded; otherwise why not, in a few words."""
    if status != "completed":
        return status
    if expected in answer:
        return None
    if answer.startswith("I could not complete"):
        return f"tool failed: {last_error or 'unknown'}"
    return "wrong answer"


_REFUSED = re.compile(r"the plan was refused (\w+(?: times)?) \(([^)]*)\)")


def failure_cause(rec: TaskRecord) -> tuple[str, bool]:
    """Why a task failed, in words, and whether a retry (of the activity or call that failed) could
    have turned it into a success: a retryable class that ran out of attempts could; the model's own
    mistakes, and errors our taxonomy never retries, could not."""
    refused = _REFUSED.search(rec.answer)
    reason = rec.failure_reason or "?"
    if refused:
        why = f"the plan was refused {refused.group(1)} ({refused.group(2)}): the planner's own mistakes"
        return f"{why}, typed InvalidInputError; only another correction could help", False
    if reason.startswith("tool failed: "):
        retryable = _retryable(reason.removeprefix("tool failed: "))
        return f"{reason} ({'retryable: more attempts could' if retryable else 'not retryable'})", retryable
    causes = {
        "retry_budget_exhausted": ("the run's retry budget ran out before a retryable call succeeded", True),
        "step_cap": ("step cap: the model kept calling tools that do not exist", False),
        "wrong answer": ("wrong answer, the model's: no call failed", False),
    }
    return causes.get(reason, (f"run ended {reason}", False))


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise_records(records: list[TaskRecord]) -> dict[str, Any]:
    retries = [r for rec in records for r in rec.retries]
    wasted = sum(not r.useful for r in retries)
    steps = [rec.steps for rec in records]
    latency = [rec.latency_ms for rec in records]
    errors: Counter[str] = Counter()
    for rec in records:
        errors.update(rec.errors)
    retried_classes = Counter(r.error_type for r in retries)
    return {
        "tasks": len(records),
        "success": sum(rec.success for rec in records),
        "success_pct": 100.0 * sum(rec.success for rec in records) / max(1, len(records)),
        "retries": len(retries),
        "useful_retries": len(retries) - wasted,
        "wasted_retries": wasted,
        "waste_pct": 100.0 * wasted / len(retries) if retries else 0.0,
        "retries_on_non_retryable": sum(n for name, n in retried_classes.items() if not _retryable(name)),
        "steps_avg": statistics.fmean(steps) if steps else 0.0,
        "steps_sd": statistics.pstdev(steps) if steps else 0.0,
        "latency_p50_ms": _percentile(latency, 0.50),
        "latency_p95_ms": _percentile(latency, 0.95),
        "tokens": sum(rec.tokens for rec in records),
        "degraded_results": sum(rec.degraded for rec in records),
        "failure_reasons": dict(Counter(rec.failure_reason for rec in records if rec.failure_reason)),
        "error_types": dict(errors.most_common()),
        "retried_error_types": dict(retried_classes.most_common()),
    }


def _retryable(name: str) -> bool:
    cls = ERRORS_BY_NAME.get(name)
    return cls is not None and cls.retryable


ARM_TITLES = {
    "naive": "naive ReAct (in-process)",
    "ours": "AgentWorkflow ReAct",
    "plan": "AgentWorkflow plan mode",
}


def _row(label: str, *cells: object) -> str:
    return f"| {label:<30} | " + " | ".join(f"{c!s:>26}" for c in cells) + " |"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


_ROWS: tuple[tuple[str, str, str], ...] = (
    ("success", "success_pct", "{:.1f} %"),
    ("total retries", "retries", "{}"),
    ("useful retries", "useful_retries", "{}"),
    ("wasted retries", "wasted_retries", "{}"),
    ("waste %", "waste_pct", "{:.1f} %"),
    ("retries on non-retryable", "retries_on_non_retryable", "{}"),
    ("steps avg (model calls)", "steps_avg", "{:.2f}"),
    ("steps σ", "steps_sd", "{:.2f}"),
    ("latency p50 (ms)", "latency_p50_ms", "{:.0f}"),
    ("latency p95 (ms)", "latency_p95_ms", "{:.0f}"),
    ("tokens", "tokens", "{}"),
    ("degraded (fallback) results", "degraded_results", "{}"),
)


def main_table(arms: dict[str, dict[str, Any]], rate: float) -> list[str]:
    """One column per arm (naive, ours, plan: whichever ran), one row per metric."""
    first = next(iter(arms.values()))
    lines = [
        f"Hallucination rate {rate:.0%}, {first['tasks']} tasks",
        _row("metric", *(ARM_TITLES.get(name, name) for name in arms)),
        "|" + "-" * 32 + ("|" + "-" * 28) * len(arms) + "|",
    ]
    lines += [_row(label, *(fmt.format(a[key]) for a in arms.values())) for label, key, fmt in _ROWS]
    lines.append("")
    for title, key in (
        ("failure reasons", "failure_reasons"),
        ("error types", "error_types"),
        ("retried error types", "retried_error_types"),
    ):
        lines.append(f"{title}:")
        lines += [f"  {name}: {_counts(a[key])}" for name, a in arms.items()]
    return lines


Cell = Callable[[dict[str, Any]], str]
ARM_COLUMNS: tuple[tuple[str, Cell], ...] = (
    ("success", lambda a: f"{a['success_pct']:.1f} %"),
    ("retries", lambda a: str(a["retries"])),
    ("wasted", lambda a: f"{a['wasted_retries']} ({a['waste_pct']:.1f} %)"),
    ("steps σ", lambda a: f"{a['steps_sd']:.2f}"),
)


def sweep_table(rows: list[tuple[float, dict[str, dict[str, Any]]]]) -> list[str]:
    """One row per hallucination rate; for every arm its success, retries, wasted retries and σ."""
    names = list(rows[0][1]) if rows else []
    titles = ["halluc.", *(f"{name} {title}" for name in names for title, _ in ARM_COLUMNS)]
    cells = [
        [f"{rate:.0%}", *(cell(arms[name]) for name in names for _, cell in ARM_COLUMNS)]
        for rate, arms in rows
    ]
    widths = [max(len(title), *(len(row[i]) for row in cells)) for i, title in enumerate(titles)]
    head = "| " + " | ".join(t.ljust(w) for t, w in zip(titles, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    return ["Sensitivity sweep (same tasks, same tool faults)", head, rule, *body]
