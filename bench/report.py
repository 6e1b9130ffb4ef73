"""Per-task records, their aggregates, and the printed tables."""

from __future__ import annotations

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


def _row(label: str, left: object, right: object) -> str:
    return f"| {label:<30} | {left!s:>30} | {right!s:>30} |"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "-"


def main_table(naive: dict[str, Any], ours: dict[str, Any], rate: float) -> list[str]:
    lines = [
        f"Hallucination rate {rate:.0%}, {naive['tasks']} tasks",
        _row("metric", "naive ReAct (in-process)", "AgentWorkflow (Temporal)"),
        "|" + "-" * 32 + "|" + "-" * 32 + "|" + "-" * 32 + "|",
    ]
    pct = "{:.1f} %"
    rows: list[tuple[str, str, str]] = [
        ("success", "success_pct", pct),
        ("total retries", "retries", "{}"),
        ("useful retries", "useful_retries", "{}"),
        ("wasted retries", "wasted_retries", "{}"),
        ("waste %", "waste_pct", pct),
        ("retries on non-retryable", "retries_on_non_retryable", "{}"),
        ("steps avg", "steps_avg", "{:.2f}"),
        ("steps σ", "steps_sd", "{:.2f}"),
        ("latency p50 (ms)", "latency_p50_ms", "{:.0f}"),
        ("latency p95 (ms)", "latency_p95_ms", "{:.0f}"),
        ("tokens", "tokens", "{}"),
        ("degraded (fallback) results", "degraded_results", "{}"),
    ]
    lines += [_row(label, fmt.format(naive[key]), fmt.format(ours[key])) for label, key, fmt in rows]
    lines.append("")
    for title, key in (
        ("failure reasons", "failure_reasons"),
        ("error types", "error_types"),
        ("retried error types", "retried_error_types"),
    ):
        lines.append(f"{title}:")
        lines.append(f"  naive: {_counts(naive[key])}")
        lines.append(f"  ours:  {_counts(ours[key])}")
    return lines


Cell = Callable[[float, dict[str, Any], dict[str, Any]], str]
SWEEP_COLUMNS: tuple[tuple[str, Cell], ...] = (
    ("halluc.", lambda rate, n, o: f"{rate:.0%}"),
    ("naive success", lambda rate, n, o: f"{n['success_pct']:.1f} %"),
    ("naive retries", lambda rate, n, o: str(n["retries"])),
    ("naive wasted", lambda rate, n, o: f"{n['wasted_retries']} ({n['waste_pct']:.1f} %)"),
    ("ours success", lambda rate, n, o: f"{o['success_pct']:.1f} %"),
    ("ours retries", lambda rate, n, o: str(o["retries"])),
    ("ours wasted", lambda rate, n, o: f"{o['wasted_retries']} ({o['waste_pct']:.1f} %)"),
)


def sweep_table(rows: list[tuple[float, dict[str, Any], dict[str, Any]]]) -> list[str]:
    cells = [[cell(rate, naive, ours) for _, cell in SWEEP_COLUMNS] for rate, naive, ours in rows]
    widths = [max(len(title), *(len(row[i]) for row in cells)) for i, (title, _) in enumerate(SWEEP_COLUMNS)]
    head = "| " + " | ".join(t.ljust(w) for (t, _), w in zip(SWEEP_COLUMNS, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    return ["Sensitivity sweep (same tasks, same tool faults)", head, rule, *body]
