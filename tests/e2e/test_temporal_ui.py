"""The Temporal UI, in headless Chromium: search attributes of a run, and the awaiting-approval list.

Needs Debian's chromium (`make browser`, run by `make test`); screenshots land in tests/e2e/screenshots/.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.live_stack import Stack, free_port, running_stack
from tests.test_cli_bad_input import Cli, cli, start_demo_run, status_until

__all__ = ["cli"]

CHROMIUM = Path(os.environ.get("AGENT_CHROMIUM", "/usr/bin/chromium"))
# As the machine notes say: without the background-networking flags Chromium keeps dialling out.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture(scope="module")
def ui_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    ui_port = free_port()
    with running_stack(tmp_path_factory.mktemp("ui-stack"), ui_port=ui_port) as stack:
        yield stack, f"http://127.0.0.1:{ui_port}"


@contextmanager
def browser_page() -> Iterator[Page]:
    """Opened after the CLI's work: the sync API holds an event loop, the in-process CLI runs its own."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1600, "height": 1000})
        finally:
            browser.close()


@pytest.fixture
def ui_cli(cli: Cli, ui_stack: tuple[Stack, str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    stack, _ = ui_stack
    monkeypatch.setenv("TEMPORAL_ADDRESS", stack.address)
    monkeypatch.setenv("AGENT_TASK_QUEUE", stack.queue)
    monkeypatch.setenv("AGENT_DATA_DIR", str(stack.data_dir))
    return cli


def listed_ids(page: Page, url: str, ours: set[str], expected: set[str], timeout: float = 30) -> set[str]:
    """Workflow ids of ours in the UI's list at `url`, reloaded until it shows `expected` (or time's up)."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(url)
        page.get_by_text("Workflow ID").first.wait_for(timeout=15_000)
        page.wait_for_load_state("networkidle")
        rows = page.locator("table tbody tr").all_inner_texts()
        found = {wid for wid in ours for row in rows if wid in row.split()}
        if found == expected or time.monotonic() > deadline:
            return found
        time.sleep(1)


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

    with browser_page() as page:
        SHOTS.mkdir(exist_ok=True)
        query = quote('AgentStatus="awaiting_approval"')
        ours = {*waiting, done, escalated}
        workflows = f"{ui}/namespaces/default/workflows?query="
        found = listed_ids(page, workflows + query, ours, waiting)
        page.screenshot(path=str(SHOTS / "awaiting_approval.png"), full_page=True)
        assert found == waiting
        # The other attributes filter too: all of ours by user and prompt version; the customer who
        # asked for a manager was escalated before the model's first turn.
        query = quote('AgentUser="anonymous" AND AgentPromptVersion="support-v2"')
        assert listed_ids(page, workflows + query, ours, ours) == ours
        assert listed_ids(page, workflows + quote("AgentTurns = 0"), ours, {escalated}) == {escalated}
        query = quote("AgentCostUsd > 0")
        assert listed_ids(page, workflows + query, ours, set(), timeout=2) == set()

        first = sorted(waiting)[0]
        page.goto(f"{ui}/namespaces/default/workflows/{first}")
        page.get_by_text("Search Attributes", exact=True).first.click()
        page.get_by_text('"AgentStatus"').first.wait_for(timeout=15_000)  # the tab's JSON view
        page.screenshot(path=str(SHOTS / "search_attributes.png"), full_page=True)
        text = page.inner_text("body")
        for field in (
            '"AgentStatus": "awaiting_approval"',
            '"AgentUser": "anonymous"',
            '"AgentPromptVersion": "support-v2"',
            '"AgentTurns": 2',
            '"AgentCostUsd": 0',
        ):
            assert field in text, f"{field} not shown: {text}"
