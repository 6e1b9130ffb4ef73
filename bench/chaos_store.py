"""The chaos suite's data: one duplicate-charge pair per run, and the side effects each run left."""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from agents.merchant_support import Store


@dataclass(frozen=True)
class Case:
    """One run: a refund of its own duplicate pair, or an escalation that a human answers."""

    index: int
    kind: str  # "refund" | "escalation"

    @property
    def workflow_id(self) -> str:
        return f"chaos-{self.index:04d}"

    @property
    def original(self) -> str:
        return f"pay_C{self.index:04d}A"

    @property
    def duplicate(self) -> str:
        return f"pay_C{self.index:04d}B"

    @property
    def task(self) -> str:
        if self.kind == "refund":
            return f"Merchant MID001 says {self.original} was charged twice; refund the duplicate."
        return f"I want to speak to a manager about {self.original} (merchant MID001)."


def make_cases(runs: int, escalation_share: float) -> list[Case]:
    every = max(1, round(1 / escalation_share)) if escalation_share > 0 else 0
    return [
        Case(i, "escalation" if every and i % every == every - 1 else "refund") for i in range(1, runs + 1)
    ]


def seed_cases(data_dir: Path, cases: list[Case]) -> None:
    """Create the store, then one same-card, same-amount pair a minute apart per case (the seed has two)."""
    Store.open(data_dir)
    rows = []
    for case in cases:
        cents, card = 1000 + case.index, f"fp_chaos{case.index:04d}"
        rows.append((case.original, cents, card, f"2026-11-05T10:{case.index % 50:02d}:00Z"))
        rows.append((case.duplicate, cents, card, f"2026-11-05T10:{case.index % 50 + 1:02d}:00Z"))
    with sqlite3.connect(data_dir / Store.FILENAME) as conn:
        conn.executemany(
            "INSERT INTO transactions (id, merchant_id, amount_cents, currency, card_fingerprint, status,"
            " created_at, description) VALUES (?, 'MID001', ?, 'USD', ?, 'succeeded', ?, 'chaos order')",
            rows,
        )


@dataclass
class SideEffects:
    refunds_by_run: Counter[str]
    tickets_by_run: Counter[str]
    refunds_by_payment: Counter[str]
    integrity: str


def side_effects(data_dir: Path) -> SideEffects:
    """Refunds and tickets per run (from each row's idempotency key `workflow_id:call_id`)."""
    with sqlite3.connect(data_dir / Store.FILENAME) as conn:
        refunds = conn.execute("SELECT idempotency_key, transaction_id FROM refunds").fetchall()
        tickets = conn.execute("SELECT idempotency_key FROM tickets").fetchall()
        integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    run_of = lambda key: str(key).rsplit(":", 1)[0]  # noqa: E731
    return SideEffects(
        refunds_by_run=Counter(run_of(k) for k, _ in refunds),
        tickets_by_run=Counter(run_of(k) for (k,) in tickets),
        refunds_by_payment=Counter(str(t) for _, t in refunds),
        integrity=integrity,
    )


def duplicates(cases: list[Case], effects: SideEffects) -> list[str]:
    """Every side effect beyond the expected one: the suite fails on any."""
    found = []
    for case in cases:
        refunds = effects.refunds_by_run[case.workflow_id]
        tickets = effects.tickets_by_run[case.workflow_id]
        expected = (1, 0) if case.kind == "refund" else (0, 1)
        if (refunds, tickets) != expected and (refunds > expected[0] or tickets > expected[1]):
            found.append(f"{case.workflow_id}: {refunds} refunds, {tickets} tickets, expected {expected}")
        if effects.refunds_by_payment[case.duplicate] > 1:
            found.append(f"{case.duplicate} refunded {effects.refunds_by_payment[case.duplicate]} times")
    return found


def missing(cases: list[Case], effects: SideEffects) -> list[str]:
    """Runs that completed without their side effect (a lost write)."""
    found = []
    for case in cases:
        have = effects.refunds_by_run if case.kind == "refund" else effects.tickets_by_run
        if have[case.workflow_id] == 0:
            found.append(f"{case.workflow_id}: no {case.kind} recorded")
    return found
