"""An eval's figures: pass rate per case and per category, tokens, cost, latency p50/p95; and a
side-by-side comparison of two variants with the cases whose results differ."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from evals.runner import CaseResult


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(label: str, results: Sequence[CaseResult]) -> dict[str, Any]:
    """The JSON document of one variant's run of the suite."""
    by_category: dict[str, list[CaseResult]] = defaultdict(list)
    for result in results:
        by_category[result.case.category].append(result)
    latencies = [r.outcome.latency_s for r in results]
    passed = sum(r.passed for r in results)
    return {
        "label": label,
        "cases": len(results),
        "passed": passed,
        "pass_rate": passed / len(results) if results else 0.0,
        "categories": {
            name: {"cases": len(rs), "passed": sum(r.passed for r in rs), "pass_rate": _rate(rs)}
            for name, rs in sorted(by_category.items())
        },
        "prompt_tokens": sum(r.outcome.prompt_tokens for r in results),
        "completion_tokens": sum(r.outcome.completion_tokens for r in results),
        "cost_usd": round(sum(r.outcome.cost_usd for r in results), 6),
        "latency_s": {"p50": round(percentile(latencies, 50), 3), "p95": round(percentile(latencies, 95), 3)},
        "results": [_case_json(r) for r in results],
    }


def _rate(results: Sequence[CaseResult]) -> float:
    return sum(r.passed for r in results) / len(results) if results else 0.0


def _case_json(result: CaseResult) -> dict[str, Any]:
    out = result.outcome
    return {
        "id": result.case.id,
        "category": result.case.category,
        "source": result.case.source,
        "passed": result.passed,
        "reasons": list(result.reasons),
        "workflow_id": out.workflow_id,
        "status": out.status,
        "turns": out.turns,
        "tools": [c.tool for c in out.calls],
        "decisions": out.decisions,
        "rows": out.rows,
        "cost_usd": out.cost_usd,
        "tokens": out.prompt_tokens + out.completion_tokens,
        "latency_s": round(out.latency_s, 3),
        "answer": out.answer,
    }


def progress_line(result: CaseResult, done: int, total: int) -> str:
    mark = "PASS" if result.passed else "FAIL"
    name = f"{result.case.category}/{result.case.id}"
    line = f"[{done:>3}/{total}] {mark} {name} ({result.outcome.latency_s:.1f} s)"
    return line if result.passed else f"{line}: {'; '.join(result.reasons)}"


def render(doc: dict[str, Any]) -> list[str]:
    lines = [f"== {doc['label']}: {doc['passed']}/{doc['cases']} passed ({doc['pass_rate']:.0%})"]
    for name, cat in doc["categories"].items():
        lines.append(f"   {name:<22} {cat['passed']:>3}/{cat['cases']:<3} {cat['pass_rate']:.0%}")
    lat = doc["latency_s"]
    lines.append(
        f"   tokens {doc['prompt_tokens']} prompt + {doc['completion_tokens']} completion; "
        f"cost {doc['cost_usd']:.6f} USD; latency p50 {lat['p50']:.2f} s, p95 {lat['p95']:.2f} s"
    )
    lines += [
        f"   FAIL {r['category']}/{r['id']} ({r['source']}): {'; '.join(r['reasons'])}"
        for r in doc["results"]
        if not r["passed"]
    ]
    return lines


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Both variants side by side per category, and every case one passes and the other fails."""
    b_cases = {r["id"]: r for r in b["results"]}
    differing = []
    for ra in a["results"]:
        rb = b_cases.get(ra["id"])
        if rb is not None and ra["passed"] != rb["passed"]:
            verdicts = {a["label"]: _verdict(ra), b["label"]: _verdict(rb)}
            differing.append({"id": ra["id"], "category": ra["category"], **verdicts})
    categories = sorted(set(a["categories"]) | set(b["categories"]))
    return {
        "a": a["label"],
        "b": b["label"],
        "pass_rate": {a["label"]: a["pass_rate"], b["label"]: b["pass_rate"]},
        "categories": {
            name: {
                a["label"]: a["categories"].get(name, {}).get("pass_rate"),
                b["label"]: b["categories"].get(name, {}).get("pass_rate"),
            }
            for name in categories
        },
        "differing": differing,
    }


def _verdict(result: dict[str, Any]) -> str:
    return "pass" if result["passed"] else "FAIL: " + "; ".join(result["reasons"])


def render_compare(diff: dict[str, Any]) -> list[str]:
    a, b = diff["a"], diff["b"]
    width = max(len(a), len(b), 8)
    lines = [f"== compare  {'category':<22} {a:>{width}} {b:>{width}}"]
    rates = diff["pass_rate"]
    lines.append(f"   {'all cases':<31} {rates[a]:>{width}.0%} {rates[b]:>{width}.0%}")
    for name, both in diff["categories"].items():
        lines.append(f"   {name:<31} {_pct(both[a]):>{width}} {_pct(both[b]):>{width}}")
    lines.append(f"   {len(diff['differing'])} case(s) differ:")
    for case in diff["differing"]:
        lines.append(f"   - {case['category']}/{case['id']}")
        lines += [f"       {label}: {case[label]}" for label in (a, b)]
    return lines


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"
