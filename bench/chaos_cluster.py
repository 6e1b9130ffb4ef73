"""Processes of the chaos suite: a dev server on a SQLite file, the fake hosted model, workers, and kills."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core.search_attributes import CLI_TYPES

REPO = Path(__file__).resolve().parents[1]
TEMPORAL = Path(sys.executable).parent / "temporal"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def snapshot(root: Path) -> Path:
    """Copy the code once: a worker restarted mid-run runs what the others run, not a half-saved edit."""
    target = root / "src"
    skip = shutil.ignore_patterns(".*", "__pycache__", "tests", "results", "deploy", "*.egg-info", "*.db")
    shutil.copytree(REPO, target, ignore=skip)
    return target


def _spawn(
    cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path = REPO
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd
        )


@dataclass
class Server:
    """`temporal server start-dev` on a SQLite file, so a restart keeps every run."""

    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> float:
        """Start and wait for the port; returns the seconds it took."""
        started = time.monotonic()
        attrs = [a for name, kind in CLI_TYPES.items() for a in ("--search-attribute", f"{name}={kind}")]
        cmd = [str(TEMPORAL), "server", "start-dev", "--db-filename", str(self.root / "chaos.db")]
        cmd += ["--headless", "--ip", "127.0.0.1", "--port", str(self.port), "--log-level", "error", *attrs]
        self.proc = _spawn(cmd, self.root / "temporal.log")
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() - started > timeout:
                raise RuntimeError(f"the dev server did not start; see {self.root / 'temporal.log'}")
            time.sleep(0.1)
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Provider:
    """bench/fake_provider.py in its own process: a worker's death closes its calls, not the model."""

    root: Path
    flags: list[str] = field(default_factory=list)
    model: str = "acme-hosted-7b"  # a hosted model's name that no price list knows...
    price: str = "0.20/0.80"  # ...so the worker is given its price (USD per million tokens in/out)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def env(self) -> dict[str, str]:
        """What a worker needs to call it as a hosted, OpenAI-compatible model."""
        return {
            "LLM_PROVIDER": "openai",
            "LLM_BASE_URL": self.base_url,
            "LLM_MODEL": self.model,
            "LLM_PRICE": self.price,
        }

    def start(self, timeout: float = 30.0) -> None:
        cmd = [sys.executable, "-m", "bench.fake_provider", "--port", str(self.port), "--model", self.model]
        self.proc = _spawn([*cmd, *self.flags], self.root / "provider.log")
        started = time.monotonic()
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() - started > timeout:
                raise RuntimeError(f"the fake provider did not start; see {self.root / 'provider.log'}")
            time.sleep(0.1)

    async def state(self) -> dict[str, Any]:
        """Its counts and the calls in flight (task, turn, age_s, latency_s)."""
        async with httpx.AsyncClient(timeout=5.0) as http:
            answer = await http.get(f"http://127.0.0.1:{self.port}/fake/state")
        state: dict[str, Any] = answer.json()
        return state

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@dataclass
class WorkerPool:
    """N worker processes on one task queue and one store; dead ones are restarted by `revive`."""

    root: Path
    size: int
    env: dict[str, str]
    code: Path = REPO
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    starts: int = 0
    self_kills_seen: int = 0

    def start(self, slot: int) -> None:
        env = dict(self.env, AGENT_WORKER_READY_FILE=str(self.root / f"worker-{slot}.ready"))
        cmd = [sys.executable, "-m", "bench.chaos_worker"]
        self.procs[slot] = _spawn(cmd, self.root / f"worker-{slot}.log", env, self.code)
        self.starts += 1

    def start_all(self) -> None:
        for slot in range(self.size):
            self.start(slot)

    def alive(self) -> list[int]:
        return [slot for slot, proc in self.procs.items() if proc.poll() is None]

    def slot_of(self, identity: str) -> int | None:
        """The live worker behind a Temporal worker identity (`pid@host`, the SDK's default)."""
        pid = identity.split("@", 1)[0]
        return next((s for s in self.alive() if str(self.procs[s].pid) == pid), None)

    def kill(self, slot: int, why: str = "") -> int:
        """SIGKILL one worker (no graceful shutdown, no goodbye); returns its pid."""
        proc = self.procs[slot]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            with (self.root / "kills.log").open("a") as log:  # for reading histories afterwards
                log.write(f"{time.time():.3f} {proc.pid} {why}\n")
        return proc.pid

    def revive(self) -> list[int]:
        """Restart every dead worker; a -SIGKILL exit not caused by `kill` was a self-kill after a write."""
        restarted = []
        for slot, proc in list(self.procs.items()):
            if proc.poll() is not None:
                restarted.append(slot)
                self.start(slot)
        return restarted

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=35)
            except subprocess.TimeoutExpired:
                proc.kill()


def worker_env(
    server: Server, provider: Provider, data_dir: Path, queue: str, die_after_write: float, events: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_", "LLM_", "TEMPORAL_"))}
    return (
        env
        | provider.env()
        | {
            "AGENT_DATA_DIR": str(data_dir),
            "AGENT_TASK_QUEUE": queue,
            "TEMPORAL_ADDRESS": server.address,
            "CHAOS_DIE_AFTER_WRITE": str(die_after_write),
            "CHAOS_EVENTS": str(events),
            "CHAOS_PROTECTED": str(events.parent / "protected.pids"),
            "AGENT_LOG_LEVEL": "warning",
        }
    )
