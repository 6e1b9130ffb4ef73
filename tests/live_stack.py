"""A real dev server and worker process for tests that go through the CLI, the binary or the UI."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.client import connect
from core.config import Settings
from core.search_attributes import CLI_TYPES

REPO = Path(__file__).resolve().parents[1]
TEMPORAL = Path(sys.executable).parent / "temporal"


@dataclass(frozen=True)
class Stack:
    address: str
    queue: str
    data_dir: Path

    def refunds(self, key_prefix: str = "") -> int:
        """Rows in the worker's refunds table whose idempotency key starts with `key_prefix`."""
        with sqlite3.connect(self.data_dir / "support.db") as conn:
            sql = "SELECT COUNT(*) FROM refunds WHERE idempotency_key LIKE ?"
            row = conn.execute(sql, (f"{key_prefix}%",)).fetchone()
        return int(row[0])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(ready: Callable[[], bool], what: str, procs: list[subprocess.Popen[bytes]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        dead = [p.args for p in procs if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start (exited: {dead})")
        time.sleep(0.2)


def _server_ready(address: str) -> bool:
    async def probe() -> None:
        client = await connect(Settings(temporal_address=address))
        await client.count_workflows()  # visibility answers, so search attributes are registered

    try:
        asyncio.run(probe())
    except Exception:
        return False
    return True


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextmanager
def running_server(
    tmp: Path, ui_port: int | None = None
) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """A dev server (with the Temporal UI on `ui_port`, else headless): its address and processes."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    attrs = [arg for name, kind in CLI_TYPES.items() for arg in ("--search-attribute", f"{name}={kind}")]
    ui = ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    server_cmd = [str(TEMPORAL), "server", "start-dev", *ui, "--ip", "127.0.0.1"]
    server_cmd += ["--port", str(port), "--http-port", str(free_port())]
    server_cmd += ["--db-filename", str(tmp / "temporal.db"), "--log-level", "error", *attrs]
    procs: list[subprocess.Popen[bytes]] = []
    with (tmp / "server.log").open("wb") as log:
        procs.append(subprocess.Popen(server_cmd, stdout=log, stderr=subprocess.STDOUT))
    try:
        _wait(lambda: _server_ready(address), "temporal dev server", procs, 30)
        yield address, procs
    finally:
        for proc in reversed(procs):  # workers first, then the server they talk to
            _stop(proc)


@contextmanager
def running_stack(tmp: Path, ui_port: int | None = None) -> Iterator[Stack]:
    """A dev server (with the Temporal UI on `ui_port`, else headless) and one worker.py process."""
    with running_server(tmp, ui_port) as (address, procs):
        stack = Stack(address, f"cli-{uuid.uuid4().hex[:8]}", tmp / "data")
        ready_file = tmp / "worker.ready"
        env = {
            "PATH": str(Path(sys.executable).parent),
            "TEMPORAL_ADDRESS": address,
            "AGENT_TASK_QUEUE": stack.queue,
            "LLM_PROVIDER": "scripted",
            "AGENT_DATA_DIR": str(stack.data_dir),
            "AGENT_WORKER_READY_FILE": str(ready_file),
        }
        with (tmp / "worker.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "worker.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
                )
            )
        _wait(ready_file.exists, "worker", procs, 30)
        yield stack
