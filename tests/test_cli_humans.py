"""`pending` and `reply` against a real dev server and worker, through the CLI's own entry point."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.test_cli_bad_input import Cli, cli, live, stack, start_demo_run, status_until

__all__ = ["cli", "live", "stack"]  # fixtures shared with the bad-input suite (one server per module)


def pending_ids(live: Cli, expected: set[str], timeout: float = 20) -> tuple[int, list[dict[str, Any]]]:
    """Poll `pending --json` until it lists exactly `expected` (visibility is eventually consistent)."""
    deadline = time.monotonic() + timeout
    while True:
        code, out, _ = live("--json", "pending")
        rows = json.loads(out)["runs"]
        if {r["workflow_id"] for r in rows} == expected or time.monotonic() > deadline:
            return code, rows
        time.sleep(0.3)


def test_pending_lists_exactly_the_runs_awaiting_a_human_and_reply_ends_one(live: Cli) -> None:
    tag = uuid.uuid4().hex[:6]
    waiting_approval, escalated, finished = f"pa-{tag}", f"esc-{tag}", f"done-{tag}"
    start_demo_run(live, waiting_approval)
    wants_manager = "I want to speak to a manager about MID001"
    code, _, _ = live("--json", "run", wants_manager, "--no-wait", "--id", escalated)
    assert code == 0
    status_until(live, escalated, "escalated")
    code, out, _ = live("--json", "run", "Merchant MID001 asks about pay_ABC125", "--id", finished)
    assert code == 0 and json.loads(out)["status"] == "completed"

    code, rows = pending_ids(live, {waiting_approval, escalated})
    assert code == 0 and {r["workflow_id"] for r in rows} == {waiting_approval, escalated}
    by_id = {r["workflow_id"]: r for r in rows}
    [approval] = by_id[waiting_approval]["approvals"]
    assert approval["tool"] == "initiate_refund" and approval["overdue_soon"] is False
    assert len(approval["args_sha256"]) == 64 and approval["age_s"] >= 0
    assert by_id[escalated]["escalation"]["trigger"] == "customer_request"

    code, _, err = live("reply", waiting_approval, "hello", "--by", "ann")
    assert code == 2 and "NotEscalatedError" in err
    code, out, _ = live("--json", "reply", escalated, "We will call you today.", "--by", "ann")
    assert code == 0 and json.loads(out)["replied_by"] == "ann"
    code, doc = status_until(live, escalated, "completed")
    assert code == 0 and doc["answer"] == "We will call you today."

    _, rows = pending_ids(live, {waiting_approval})
    assert {r["workflow_id"] for r in rows} == {waiting_approval}
