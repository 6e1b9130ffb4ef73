"""Tables and acceptance points of bench/context.py (issue 5)."""

from __future__ import annotations

from statistics import mean
from typing import Any

PER_TURN_SPREAD = 0.15  # history bytes per turn: every N within ±15 % of the mean over N
PER_100_TURNS = 2_000_000  # bytes (2 MB, decimal: the stricter reading)
TURN_15_RATIO = 0.4
MAX_ACTIVITY_PAYLOAD = 256 * 1024

Case = dict[str, Any]


def _ours(results: list[Case]) -> list[Case]:
    return [c for c in results if c["variant"] == "ours"]


def prompt_at(case: Case, turn: int) -> int | None:
    tokens: list[int] = case["prompt_tokens"]
    return tokens[turn - 1] if len(tokens) >= turn else None


def compare_turn(results: list[Case], turn: int) -> dict[str, Any]:
    """Prompt tokens at `turn`: ours (largest run that reached it) vs naive (likewise), and the ratio."""
    ours = [prompt_at(c, turn) for c in _ours(results)]
    naive = [prompt_at(c, turn) for c in results if c["variant"] == "naive"]
    ours_at = next((t for t in reversed(ours) if t is not None), None)
    naive_at = next((t for t in reversed(naive) if t is not None), None)
    ratio = round(ours_at / naive_at, 3) if ours_at is not None and naive_at else None
    return {"turn": turn, "ours": ours_at, "naive": naive_at, "ratio": ratio}


def _point(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "ok": ok, "detail": detail}


def acceptance(results: list[Case], turn15: dict[str, Any]) -> list[dict[str, Any]]:
    ours = _ours(results)
    per_turn = [c["bytes_per_turn"] for c in ours]
    centre = mean(per_turn)
    spread = max(abs(p / centre - 1) for p in per_turn)
    worst_100 = max(per_turn) * 100
    payload = max(c["history"]["max_activity_payload_bytes"] for c in ours)
    finished = [f"{c['turns']}:{c['status']}" for c in ours if c["status"] != "completed"]
    ratio = turn15["ratio"]
    return [
        _point("ours completed every case", not finished, ", ".join(finished) or "all completed"),
        _point(
            "history bytes per turn constant within ±15 %",
            len(per_turn) > 1 and spread <= PER_TURN_SPREAD,
            f"per turn {per_turn} B: at most {spread:.1%} from their mean {centre:,.0f} B",
        ),
        _point(
            "history under 2 MB per 100 turns",
            worst_100 < PER_100_TURNS,
            f"worst {worst_100:,} B per 100 turns (limit {PER_100_TURNS:,})",
        ),
        _point(
            "prompt tokens at turn 15 ≤ 0.4× naive",
            ratio is not None and ratio <= TURN_15_RATIO,
            f"ours {turn15['ours']} vs naive {turn15['naive']}: ratio {ratio}",
        ),
        _point(
            "no activity payload over 256 KB (ours)",
            payload <= MAX_ACTIVITY_PAYLOAD,
            f"largest {payload:,} B (limit {MAX_ACTIVITY_PAYLOAD:,})",
        ),
    ]


def _row(c: Case) -> str:
    h = c["history"]
    t15 = prompt_at(c, 15)
    return (
        f"{c['variant']:<6}{c['turns']:>6}  {c['status']:<17}{h['runs']:>5}{h['total_bytes']:>13,}"
        f"{c['bytes_per_turn']:>11,}{c['bytes_per_turn'] * 100:>14,}{h['max_activity_payload_bytes']:>12,}"
        f"{h['max_workflow_payload_bytes']:>12,}{t15 if t15 is not None else '-':>9}{c['wall_s']:>8.1f}"
    )


def table(results: list[Case]) -> list[str]:
    header = (
        f"{'agent':<6}{'turns':>6}  {'status':<17}{'runs':>5}{'history B':>13}{'B/turn':>11}"
        f"{'B/100 turns':>14}{'max act. B':>12}{'max wf B':>12}{'tok@15':>9}{'wall s':>8}"
    )
    return [header, "-" * len(header), *(_row(c) for c in results)]


def breakdown(case: Case) -> list[str]:
    total = case["history"]["total_bytes"]
    lines = [f"Breakdown of {case['variant']} at {case['turns']} turns (bytes per turn, share):"]
    for category, nbytes in case["history"]["by_category"].items():
        share = nbytes / total if total else 0.0
        lines.append(f"  {category:<48}{nbytes // case['turns']:>10,}{share:>8.1%}")
    return lines


def carry_lines(case: Case) -> list[str]:
    fields: dict[str, int] = case["history"]["largest_carry_fields"]
    if not fields:
        return []
    lines = [f"Largest carry of {case['variant']} at {case['turns']} turns (JSON bytes per field):"]
    lines += [f"  {name:<48}{nbytes:>10,}" for name, nbytes in list(fields.items())[:8]]
    return lines


def prompt_curve(case: Case, every: int = 5) -> str:
    tokens: list[int] = case["prompt_tokens"]
    picks = [f"{t}:{tokens[t - 1]}" for t in range(1, len(tokens) + 1) if t == 1 or t % every == 0]
    return f"  {case['variant']} {case['turns']}: " + " ".join(picks)


def render(document: dict[str, Any]) -> list[str]:
    results: list[Case] = document["cases"]
    t15 = document["turn_15"]
    lines = [*table(results), ""]
    lines.append(
        f"Prompt tokens at turn 15: ours {t15['ours']} vs naive {t15['naive']} → ratio {t15['ratio']}"
    )
    lines.append("Prompt tokens by turn (turn:tokens, every 5th):")
    lines += [prompt_curve(c) for c in results if c["turns"] >= 15]
    biggest = max(_ours(results), key=lambda c: c["turns"])
    lines += ["", *breakdown(biggest), *carry_lines(biggest)]
    naive = [c for c in results if c["variant"] == "naive"]
    if naive:
        lines += ["", *breakdown(max(naive, key=lambda c: c["turns"]))]
    lines += ["", f"naive runs capped at {document['naive_cap']} turns; bytes: {document['bytes']}"]
    lines.append(f"wall time {document['wall_s']:.1f} s")
    lines += [f"{'PASS' if p['ok'] else 'FAIL'}: {p['name']} — {p['detail']}" for p in document["acceptance"]]
    return lines
