"""How long the API's stream polls take, timed inside the API process of bench/api_sse.py.

Each poll of WorkflowStreamClient.subscribe is an update: `start_update` returns once a workflow
task of the run has accepted it (a worker round trip), `result` once items are there. Both are timed
by wrapping the SDK's handle methods in this bench process only; the figures are written every
second (uvicorn ends the process on SIGTERM before any code after it could run).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowUpdateHandle

from bench import perf_common as pc

ACCEPTED: list[float] = []
ANSWERED: list[float] = []


def _timed(method: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    async def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.monotonic()
        try:
            return await method(*args, **kwargs)
        finally:
            into.append(time.monotonic() - began)

    return timed


def time_polls() -> None:
    WorkflowHandle.start_update = _timed(WorkflowHandle.start_update, ACCEPTED)  # type: ignore[method-assign]
    WorkflowUpdateHandle.result = _timed(WorkflowUpdateHandle.result, ANSWERED)  # type: ignore[method-assign]


async def keep_writing(path: Path) -> None:
    while True:
        await asyncio.sleep(1.0)
        write(path)


def write(path: Path) -> None:
    def ms(values: list[float]) -> dict[str, float]:
        return {"p50": pc.percentile(values, 0.5) * 1000, "p95": pc.percentile(values, 0.95) * 1000}

    path.write_text(json.dumps({"polls": len(ACCEPTED), "accepted": ms(ACCEPTED), "answered": ms(ANSWERED)}))


def line(path: Path) -> str:
    if not path.exists():
        return "stream polls: not timed (the API did not write them)"
    got = json.loads(path.read_text())
    accepted, answered = got["accepted"], got["answered"]
    return (
        f"stream polls (updates) by the API: {got['polls']}; until accepted p50 {accepted['p50']:.0f} ms, "
        f"p95 {accepted['p95']:.0f} ms; then until answered p50 {answered['p50']:.0f} ms, "
        f"p95 {answered['p95']:.0f} ms"
    )
