"""The chaos suite's verdict: one table, and the exit code (1 on any loss, stuck run or duplicate)."""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.chaos_harness import Outcome
from bench.chaos_slow import failures as slow_failures
from bench.chaos_slow import rows as slow_rows
from bench.chaos_store import Case, SideEffects, duplicates, missing


def _self_kills(events: Path) -> list[str]:
    return events.read_text().splitlines() if events.exists() else []


def report(
    args: argparse.Namespace,
    cases: list[Case],
    outcomes: list[Outcome],
    faults: Any,
    attempts: list[dict[str, int]],
    effects: SideEffects,
    events: Path,
    started: float,
) -> int:
    from bench.chaos import recovery_times, summary

    states = Counter(o.state for o in outcomes)
    statuses = Counter(o.status for o in outcomes if o.status)
    refund_cases = [c for c in cases if c.kind == "refund"]
    esc_cases = [c for c in cases if c.kind == "escalation"]
    one_refund = sum(effects.refunds_by_run[c.workflow_id] == 1 for c in refund_cases)
    one_ticket = sum(effects.tickets_by_run[c.workflow_id] == 1 for c in esc_cases)
    dups, lost_writes = duplicates(cases, effects), missing(cases, effects)
    self_kills = _self_kills(events)
    retried = Counter(name for a in attempts for name, n in a.items() if name.startswith("tool.") and n > 1)
    wft_timeouts = sum(a.get("workflow_task_timeouts", 0) for a in attempts)
    targeted = sum(1 for _, t in faults.kills if t)
    restart = faults.restart
    down = "0" if restart is None else f"1 (down {restart[1] - restart[0]:.1f} s)"
    retried_text = ", ".join(f"{k} {v}" for k, v in sorted(retried.items())) or "0"
    bad = [o for o in outcomes if o.state not in ("completed", "stuck", "lost")]
    rows = [
        ("runs completed", f"{states['completed']}/{len(cases)}  (agent status: {dict(statuses)})"),
        ("runs lost", str(states["lost"])),
        (f"runs stuck (deadline {args.deadline:g} s)", str(states["stuck"])),
        ("runs failed/terminated", str(len(bad))),
        ("refund runs with exactly 1 refund", f"{one_refund}/{len(refund_cases)}"),
        ("escalation runs with exactly 1 ticket", f"{one_ticket}/{len(esc_cases)}"),
        ("duplicated side effects", str(len(dups))),
        ("missing side effects", str(len(lost_writes))),
        ("notifications", "n/a (the demo domain has no notification tool)"),
        (
            "worker kills by the harness (SIGKILL)",
            f"{len(faults.kills)} ({targeted} just after an approval)",
        ),
        ("worker kills after a committed write", f"{len(self_kills)} (SIGKILL inside the activity)"),
        ("worker restarts", str(faults.restarts_of_workers)),
        ("server restarts (SIGKILL + start)", down),
        ("tool activities retried (by type)", retried_text),
        ("workflow task timeouts (dead worker)", str(wft_timeouts)),
        ("duplicate approvals sent", str(sum(max(0, o.approvals_sent - 1) for o in outcomes))),
        ("time to recovery (next completed run)", summary(recovery_times(faults, outcomes))),
        *slow_rows(faults.slow_kills, faults.slow_missed),
        ("sqlite integrity_check", effects.integrity),
        ("wall time", f"{time.monotonic() - started:.1f} s"),
        ("load average (1, 5, 15 min)", " ".join(f"{x:.2f}" for x in os.getloadavg())),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\nchaos: {len(cases)} runs, {args.workers} workers, seed {args.seed}")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    failures = (
        dups + lost_writes + [f"{o.case.workflow_id}: {o.state}" for o in outcomes if o.state != "completed"]
    )
    failures += [
        f"{o.case.workflow_id} ended {o.status} (llm.complete attempt {a.get('llm.complete', 0)}): {o.detail}"
        for o, a in zip(outcomes, attempts, strict=True)
        if o.detail
    ]
    if len(faults.kills) < args.kills:
        failures.append(f"only {len(faults.kills)} of {args.kills} kills happened before the runs ended")
    if restart is None and args.kills > 0:
        failures.append("the server was never restarted")
    failures += slow_failures(args, faults.slow_kills)
    if effects.integrity != "ok":
        failures.append(f"sqlite integrity_check: {effects.integrity}")
    for line in failures[:20]:
        print(f"  FAIL {line}")
    print("PASS" if not failures else f"FAIL ({len(failures)} problems)")
    return 0 if not failures else 1
