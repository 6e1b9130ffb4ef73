"""`make bench-api` end to end in its tiny form: SSE subscribers and CLI followers of the same runs,
every event delivered once and in order (the figures are the bench's to print, not asserted here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_tiny_sse_bench_loses_and_repeats_nothing() -> None:
    command = [sys.executable, "-m", "bench.api_sse", "--tiny"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "lost events: 0; repeated or out of order: 0; failed: 0" in done.stdout
    sse = re.search(r"SSE progress, one stream subscription per run\s+(\d+)", done.stdout)
    text = re.search(r"SSE model text \(from the activity.s publish\)\s+(\d+)", done.stdout)
    cli = re.search(r"CLI query poll every \d+ ms \(4 runs\)\s+(\d+)", done.stdout)
    assert sse is not None and cli is not None and text is not None and int(text.group(1)) > 0
    # Two subscribers a run see every event the run's CLI follower sees, each.
    assert int(sse.group(1)) == 2 * int(cli.group(1)) > 0
