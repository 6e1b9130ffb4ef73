"""Drives the approvals inbox in Debian's chromium through Playwright; prints what it saw as JSON.

Run as its own process, with Playwright on PYTHONPATH only there (`make browser` puts it beside the
venv): Playwright brings greenlet, and a Temporal process that imports greenlet (structlog loads it
when present) was seen to crash at exit (tests/e2e/chromium.py). This script imports no Temporal.

    python tests/e2e/inbox_driver.py API_URL TOKEN RUN_ID
"""

from __future__ import annotations

import json
import os
import sys

from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("AGENT_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def main(url: str, token: str, run_id: str) -> dict[str, object]:
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page()
        page.goto(f"{url}/inbox")
        page.fill("#token", token)
        page.click("#save")
        call = page.locator(f'.call[data-run="{run_id}"]')
        call.wait_for(timeout=30_000)
        rows = call.locator(".args tbody tr")
        args = {rows.nth(i).locator("td").nth(0).inner_text(): rows.nth(i).locator("td").nth(1).inner_text()
                for i in range(rows.count())}  # fmt: skip
        seen = {
            "tool": call.locator(".tool").inner_text(),
            "hash": call.locator(".hash").inner_text(),
            "countdown": call.locator(".countdown").inner_text(),
            "args": args,
            "ui": call.locator(".ui").get_attribute("href"),
        }
        call.locator(".reason").fill("duplicate confirmed in the browser")
        call.locator(".approve").click()
        outcome = call.locator(".outcome")
        outcome.filter(has_text="approved by").wait_for(timeout=30_000)
        seen["outcome"] = outcome.inner_text()
        page.goto(f"{url}/runs/{run_id}")
        page.locator("#state", has_text="completed").wait_for(timeout=60_000)
        seen["state"] = page.locator("#state").inner_text()
        seen["answer"] = page.locator("#answer").inner_text()
        seen["events"] = page.locator("#events").inner_text().splitlines()
        browser.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
