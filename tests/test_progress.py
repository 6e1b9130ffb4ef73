"""Live progress: the paged event log, `run`'s follower on a real run, and the latency bench's tiny run."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from agents.merchant_support import Store
from bench.tool_faults import ToolFaults
from cli import runs
from core.guardrails import ContextSettings
from core.models import AgentLimits, AgentRequest, ApproveSignal, PendingApproval, RunState
from core.progress import PAGE_EVENTS, ProgressEvent, ProgressKind
from tests.conftest import BIN, Harness, register_search_attributes, scripted_provider, strict_worker
from tests.test_agent_workflow import REFUND, answer, call, calls
from tests.test_guardrails_workflow import lookups
from workflows.agent import AgentWorkflow
from workflows.progress import ProgressLog

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 21, tzinfo=UTC)


def test_progress_log_pages_from_a_cursor_and_keeps_only_the_newest() -> None:
    log = ProgressLog(keep=PAGE_EVENTS + 50)
    for n in range(PAGE_EVENTS + 100):
        log.add(T0 + timedelta(seconds=n), ProgressKind.THINKING, turn=n)
    assert log.next_seq == PAGE_EVENTS + 100
    first = log.since(0)  # the oldest 50 fell off: the page starts at the oldest kept
    assert [e.seq for e in first] == list(range(50, 50 + PAGE_EVENTS))
    rest = log.since(first[-1].seq + 1)
    assert [e.seq for e in rest] == list(range(50 + PAGE_EVENTS, PAGE_EVENTS + 100))
    assert log.since(log.next_seq) == ()


async def test_follow_shows_each_step_once_though_the_refund_is_retried(harness: Harness) -> None:
    events: list[ProgressEvent] = []
    lines: list[str] = []

    async def approve(handle: Any, item: PendingApproval) -> None:
        signal = ApproveSignal(call_id=item.call_id, approver="al", args_sha256=item.args_sha256)
        await handle.signal(AgentWorkflow.approve, signal)

    async def during(handle: Any) -> None:
        # Real time while following: awaiting the result would otherwise skip past the approval deadline.
        with harness.env.auto_time_skipping_disabled():
            result = await runs.follow(
                handle, lines.append, on_pending=approve, observe=lambda e, _: events.append(e)
            )
        assert result.status == RunState.COMPLETED, "\n".join(lines)

    lookup = call("get_transaction", transaction_id="pay_ABC123")
    script = [calls(lookup, content="Looking."), calls(REFUND), answer("Refunded re_ on pay_ABC124.")]
    faults = ToolFaults(fail_after_side_effect={"initiate_refund": 1})  # attempt 1 fails after its write
    result, history = await harness.run("follow me", script, faults=faults, during=during)

    assert [e.seq for e in events] == list(range(len(events)))  # each event once, in order
    kinds = [(e.kind, e.label.split("(")[0]) for e in events]
    assert kinds.count((ProgressKind.CALL_START, "initiate_refund")) == 1
    ends = [e for e in events if e.kind == ProgressKind.CALL_END and e.label == "initiate_refund"]
    assert [e.outcome for e in ends] == ["ok"]  # two attempts, one step
    attempts = [e for e in history.events if e.HasField("activity_task_started_event_attributes")]
    assert any(e.activity_task_started_event_attributes.attempt == 2 for e in attempts)
    order = [k for k, _ in kinds]
    assert order.index(ProgressKind.APPROVAL_WAITING) < order.index(ProgressKind.APPROVAL_DECIDED)
    assert order[-1] == ProgressKind.ENDED and order.count(ProgressKind.THINKING) == result.turns
    assert all(e.at >= events[0].at for e in events)
    text = "\n".join(lines)
    assert "→ calling get_transaction(pay_ABC123)…" in text and "✓ get_transaction" in text
    assert text.count("✓ initiate_refund") == 1 and "⏸ waiting for approval of initiate_refund" in text
    assert "✓ approved: initiate_refund (al)" in text


def test_the_progress_bench_runs_at_a_tiny_size() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.progress", "--tiny"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "events shown twice: 0; failed runs: 0" in done.stdout and "p95" in done.stdout


def test_the_progress_bench_refuses_bad_options_and_an_unreachable_server() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "bench.progress", "--runs", "0"], cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "--runs" in bad.stderr
    gone = subprocess.run(
        [sys.executable, "-m", "bench.progress", "--address", "127.0.0.1:1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert gone.returncode == 1 and "cannot reach Temporal at 127.0.0.1:1" in gone.stderr


async def test_follow_keeps_up_across_continue_as_new(store: Store) -> None:
    """The newest events and their numbering go on across continue-as-new: nothing is missed at a handover.

    On a real dev server: the time-skipping server's result long-poll sometimes never follows the chain
    while auto-skipping is off (seen in 1 of 4 runs there; 0 of 15 on the dev server).
    """
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), data_converter=pydantic_data_converter
    )
    try:
        await register_search_attributes(env.client)
        request = AgentRequest(
            task="long followed case",
            limits=AgentLimits(max_turns=12),
            context=ContextSettings(turns_per_run=3),
        )
        provider = scripted_provider({request.task: [*lookups(7), answer("All seven checked.")]})
        lines: list[str] = []
        async with strict_worker(env.client, "follow-can", provider, store):
            handle = await env.client.start_workflow(
                AgentWorkflow.run,
                request,
                id=f"can-{uuid.uuid4().hex[:8]}",
                task_queue="follow-can",
            )
            result = await asyncio.wait_for(runs.follow(handle, lines.append), 60)
    finally:
        await env.shutdown()
    assert result.runs == 3 and result.status == RunState.COMPLETED
    thinking = [line for line in lines if line.startswith("  … thinking")]
    assert thinking == [f"  … thinking (turn {n})" for n in range(1, result.turns + 1)]
    assert sum(line.startswith("  ✓ ") for line in lines) == 7  # every lookup, each once
