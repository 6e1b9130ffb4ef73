"""The Temporal UI, in headless Chromium: search attributes of a run, and the awaiting-approval list.

Needs Debian's chromium (`make browser`, run by `make test`); screenshots land in tests/e2e/screenshots/.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from agents.merchant_support import AGENT as DEMO
from tests.e2e import chromium
from tests.live_stack import TEMPORAL, Stack, free_port, running_stack
from tests.test_cli_bad_input import Cli, cli, start_demo_run, status_until

__all__ = ["cli"]

SHOTS = Path(__file__).parent / "screenshots"
CURRENT = DEMO.instructions.current  # the prompt version a new run records


@pytest.fixture(scope="module")
def ui_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    if not chromium.CHROMIUM.exists():
        pytest.fail(f"{chromium.CHROMIUM} is missing: `make browser` installs Debian's chromium")
    ui_port = free_port()
    with running_stack(tmp_path_factory.mktemp("ui-stack"), ui_port=ui_port) as stack:
        yield stack, f"http://127.0.0.1:{ui_port}"


@pytest.fixture
def ui_cli(cli: Cli, ui_stack: tuple[Stack, str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    stack, _ = ui_stack
    monkeypatch.setenv("TEMPORAL_ADDRESS", stack.address)
    monkeypatch.setenv("AGENT_TASK_QUEUE", stack.queue)
    monkeypatch.setenv("AGENT_DATA_DIR", str(stack.data_dir))
    return cli


def listed_ids(url: str, ours: set[str], expected: set[str], timeout: float = 30) -> set[str]:
    """Which of our workflow ids the UI's list at `url` shows, reloaded until `expected` (or time's up)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = chromium.table_rows(chromium.dom(url))
        found = {wid for wid in ours for row in rows if wid in row.split()}
        if found == expected or time.monotonic() > deadline:
            return found
        time.sleep(1)  # visibility is eventually consistent


def test_ui_lists_exactly_the_runs_awaiting_approval_and_shows_search_attributes(
    ui_cli: Cli, ui_stack: tuple[Stack, str]
) -> None:
    _, ui = ui_stack
    tag = uuid.uuid4().hex[:6]
    waiting = {f"ui-wait-a-{tag}", f"ui-wait-b-{tag}"}
    done, escalated = f"ui-done-{tag}", f"ui-esc-{tag}"
    for workflow_id in sorted(waiting):
        start_demo_run(ui_cli, workflow_id)
    code, out, _ = ui_cli("--json", "run", "Merchant MID001 asks about pay_ABC125", "--id", done)
    assert code == 0 and json.loads(out)["status"] == "completed"
    angry = "I want to speak to a manager about MID001"
    code, _, _ = ui_cli("--json", "run", angry, "--no-wait", "--id", escalated)
    assert code == 0
    status_until(ui_cli, escalated, "escalated")  # waiting for a human too, but not for an approval
    ours = {*waiting, done, escalated}
    workflows = f"{ui}/namespaces/default/workflows?query="
    SHOTS.mkdir(exist_ok=True)

    awaiting = workflows + quote('AgentStatus="awaiting_approval"')
    assert listed_ids(awaiting, ours, waiting) == waiting
    chromium.screenshot(awaiting, SHOTS / "awaiting_approval.png")
    # The other attributes filter too: all of ours by user and prompt version; the customer who
    # asked for a manager was escalated before the model's first turn; nothing cost money.
    by_user = workflows + quote(f'AgentUser="anonymous" AND AgentPromptVersion="{CURRENT}"')
    assert listed_ids(by_user, ours, ours) == ours
    assert listed_ids(workflows + quote("AgentTurns = 0"), ours, {escalated}) == {escalated}
    assert listed_ids(workflows + quote("AgentCostUsd > 0"), ours, set(), timeout=2) == set()

    # A finished run's page: a running one's keeps a history long-poll open, and virtual time
    # (which lets the page load before the DOM is taken) never runs out while a request is open.
    attributes = f"{ui}/namespaces/default/workflows/{done}/{_run_id(ui_stack[0], done)}/search-attributes"
    text = chromium.text_of(chromium.dom(attributes), tag_gap="")
    chromium.screenshot(attributes, SHOTS / "search_attributes.png")
    for field in (
        '"AgentStatus": "completed"',
        '"AgentUser": "anonymous"',
        f'"AgentPromptVersion": "{CURRENT}"',
        '"AgentTurns": 2',
        '"AgentCostUsd": 0',
    ):
        assert field in text, f"{field} not shown: {text[:3000]}"


def _run_id(stack: Stack, workflow_id: str) -> str:
    """Through the temporal binary: the UI's page for a run is addressed by its run id."""
    described = subprocess.run(
        [str(TEMPORAL), "workflow", "describe", "--address", stack.address, "-w", workflow_id, "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return str(json.loads(described.stdout)["workflowExecutionInfo"]["execution"]["runId"])
