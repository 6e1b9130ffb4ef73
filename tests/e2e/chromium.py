"""Debian's headless Chromium as a subprocess: a page's rendered DOM, and a screenshot of it.

No browser library: `--dump-dom` prints the DOM after the single-page app has rendered (virtual time
lets its requests and timers finish), which is all the UI test reads. Playwright would add greenlet,
and with greenlet imported (structlog then loads it too) Temporal's core runtime crashed at exit in
about 1 of 6 runs of a short-lived process.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from html import unescape
from pathlib import Path

CHROMIUM = Path(os.environ.get("AGENT_CHROMIUM", "/usr/bin/chromium"))
# As the machine notes say: without the background-networking flags Chromium keeps dialling out.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1600,1000",
]
# Virtual time the page gets to load its data before the DOM is taken. It only advances while no
# request is open, so a page that long-polls (a running workflow's history) never finishes.
VIRTUAL_MS = 15_000
COMMAND = [str(CHROMIUM), *FLAGS, f"--virtual-time-budget={VIRTUAL_MS}"]


def _run(url: str, *extra: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [*COMMAND, f"--user-data-dir={profile}", *extra, url],
            capture_output=True,
            text=True,
            timeout=90,
        )
    if done.returncode != 0:
        raise RuntimeError(f"chromium failed ({done.returncode}): {done.stderr[-1000:]}")
    return done.stdout


def dom(url: str) -> str:
    return _run(url, "--dump-dom")


def screenshot(url: str, path: Path) -> None:
    _run(url, f"--screenshot={path}")


def text_of(fragment: str, tag_gap: str = " ") -> str:
    """The text of an HTML fragment, whitespace collapsed; tags become `tag_gap` (cells need a gap,
    the spans of one highlighted JSON line must not get one)."""
    return " ".join(unescape(re.sub(r"<[^>]+>", tag_gap, fragment)).split())


def table_rows(page: str) -> list[str]:
    return [text_of(row) for row in re.findall(r"<tr\b[^>]*>(.*?)</tr>", page, flags=re.S)]
