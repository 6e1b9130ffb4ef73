"""The approvals inbox in a real browser: a person approves a refund on the page, and the run
completes with exactly one refund stored. Debian's chromium, driven by Playwright, nothing downloaded
(`make browser` installs both)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.tokens import TokenStore
from tests.live_stack import Stack
from tests.test_api_readme import api

__all__ = ["api"]

DRIVER = Path(__file__).parent / "inbox_driver.py"
PLAYWRIGHT = Path(os.environ.get("AGENT_PLAYWRIGHT_DIR", Path(sys.executable).parents[1] / "playwright"))
CHROMIUM = Path(os.environ.get("AGENT_CHROMIUM", "/usr/bin/chromium"))
REFUND_CASE = "Merchant MID001 says pay_ABC123 was charged twice; refund the duplicate."


def test_a_person_approves_a_refund_on_the_inbox_page(api: tuple[str, Stack, dict[str, str]]) -> None:
    if not CHROMIUM.exists() or not (PLAYWRIGHT / "playwright").exists():
        pytest.fail("`make browser` installs Debian's chromium and Playwright (no browser download)")
    url, stack, env = api
    tokens = TokenStore(Path(env["AGENT_API_TOKENS"]))
    starter = {"Authorization": f"Bearer {tokens.mint('support-desk', [])[1]}"}
    _, alice = tokens.mint("alice", ["approver"])
    body = {"agent": "merchant_support", "user": "mid001", "task": REFUND_CASE}
    run_id = "inbox-1"
    started = httpx.post(f"{url}/v1/runs", json=body, headers={**starter, "Idempotency-Key": run_id})
    assert started.status_code == 201, started.text
    pending = _listed(url, run_id, {"Authorization": f"Bearer {alice}"})
    driven = subprocess.run(
        [sys.executable, str(DRIVER), url, alice, run_id],
        env={"PYTHONPATH": str(PLAYWRIGHT), "PATH": os.environ["PATH"], "HOME": str(Path.home())},
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert driven.returncode == 0, driven.stderr[-3000:]
    seen = json.loads(driven.stdout)
    assert (seen["tool"], seen["hash"]) == (pending["tool"], pending["args_sha256"])
    assert seen["args"] == {k: str(v) for k, v in pending["args"].items()}
    assert seen["countdown"] != "expired" and seen["ui"].endswith(f"/workflows/{run_id}")
    assert seen["outcome"] == "approved by alice"
    assert seen["state"] == "completed" and "re_" in seen["answer"]
    assert any("approval.decided" in line for line in seen["events"])
    result = httpx.get(f"{url}/v1/runs/{run_id}", headers=starter).json()["result"]
    assert [c["approved_by"] for c in result["tool_calls"] if c["tool"] == "initiate_refund"] == ["alice"]
    assert stack.refunds(run_id) == 1


def _listed(url: str, run_id: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = httpx.get(f"{url}/v1/approvals", headers=headers).json()
        found = [a for a in listed if a["run_id"] == run_id]
        if found:
            return dict(found[0])
        time.sleep(0.3)
    raise AssertionError(f"{run_id} never showed in /v1/approvals")
