"""The demo cases through the real AgentWorkflow on a dev server, on the embedded model.

As `make demo` runs them, except that the operator approves at once (the demo pauses 3 s to show the
commands; a pause would measure nothing of ours). The clock starts when the worker is ready.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from agents.merchant_support import Store
from cli.demo import DEMO_TASK, OPERATOR, OPERATOR_REPLY
from client import AgentClient
from core.agent import Agent
from core.models import (
    FINAL_STATES,
    AgentLimits,
    AgentRequest,
    AgentResult,
    ApproveSignal,
    HumanReplySignal,
    RunState,
    RunStatus,
    ToolOutcome,
)
from core.worker_options import worker_options
from worker import build_worker
from workflows.agent import AgentWorkflow

# The demo case first, then two more of the seeded stories: a second duplicate (EUR) and a question
# whose answer needs no refund. Each runs once per configuration, on that configuration's own store.
CASES: tuple[str, ...] = (
    DEMO_TASK,
    "Merchant MID002 says pay_DEF204 was charged twice; refund the duplicate.",
    "Merchant MID001 asks why payment pay_ABC127 failed and whether it can be refunded.",
)
USER = "bench-model"
POLL_S = 0.3


@dataclass(frozen=True)
class CaseRun:
    task: str
    status: str
    turns: int
    seconds: float
    prompt_tokens: int
    completion_tokens: int
    refunds: int
    first_call_s: float  # the run's first model call, as the workflow timed it


async def _operate(handle: WorkflowHandle[Any, AgentResult], deadline_s: float) -> None:
    """Approve every pending call and answer an escalation once, as the demo operator does."""
    approved: set[str] = set()
    replied = False
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        status: RunStatus = await handle.query(AgentWorkflow.status)
        if status.state in FINAL_STATES:
            return
        if status.state == RunState.ESCALATED and not replied:
            replied = True
            reply = HumanReplySignal(responder=OPERATOR, text=OPERATOR_REPLY)
            await handle.signal(AgentWorkflow.human_reply, reply)
        for item in status.pending:
            if item.call_id not in approved:
                approved.add(item.call_id)
                signal = ApproveSignal(call_id=item.call_id, approver=OPERATOR, args_sha256=item.args_sha256)
                await handle.signal(AgentWorkflow.approve, signal)
        await asyncio.sleep(POLL_S)
    raise TimeoutError(f"run {handle.id} did not end within {deadline_s:.0f} s")


async def run_case(
    client: Client, queue: str, agent: Agent[Any], task: str, max_turns: int, deadline_s: float
) -> CaseRun:
    started = time.monotonic()
    request = AgentRequest(task=task, agent=agent.name, user_id=USER, limits=AgentLimits(max_turns=max_turns))
    handle = await AgentClient(client, queue).start(
        request, workflow_id=f"bench-model-{uuid.uuid4().hex[:10]}", prompt_version=agent.instructions.current
    )
    await _operate(handle, deadline_s)
    result = await handle.result()
    refunds = [c for c in result.tool_calls if c.tool == "initiate_refund" and c.outcome == ToolOutcome.OK]
    return CaseRun(
        task=task,
        status=result.status.value,
        turns=result.turns,
        seconds=time.monotonic() - started,
        prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens,
        refunds=len(refunds),
        first_call_s=result.steps[0].latency_ms / 1000 if result.steps else 0.0,
    )


async def run_cases(
    client: Client,
    provider: Any,
    agent: Agent[Any],
    store_dir: Path,
    cases: tuple[str, ...],
    say: Callable[[str], None],
    *,
    max_turns: int = 8,
    deadline_s: float = 900.0,
) -> list[CaseRun]:
    """Each case in turn on one worker with the production options; the store is fresh per call."""
    queue = f"bench-model-{uuid.uuid4().hex[:8]}"
    worker = build_worker(
        client, queue, [agent], provider, {agent.name: Store.open(store_dir)}, **worker_options()
    )
    runs = []
    async with worker:
        for i, task in enumerate(cases, 1):
            say(f"    case {i}/{len(cases)}: {task}")
            run = await run_case(client, queue, agent, task, max_turns, deadline_s)
            say(f"      {run.status} in {run.turns} turns, {run.seconds:.1f} s, {run.refunds} refund(s)")
            runs.append(run)
    return runs
