"""A 50-dispute batch as AgentWorkflow children, its worker killed mid-batch: every item is resolved or
escalated exactly once, none twice, none skipped, and the parent's counts say so."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.scripted import (
    ScriptBook,
    ScriptedReply,
    ScriptedTransport,
    call_of,
    first_user_text,
    observations,
)
from core.agent import Agent, EscalationPolicy, Instructions, PromptVersion
from core.batch import BatchRequest, BatchResult
from core.function_tools import tool
from core.models import AgentLimits, RunState
from core.toolspec import ToolContext
from core.worker_options import worker_options
from tests.conftest import SCRIPTED_URL
from worker import build_worker
from workflows.batch import BatchWorkflow, item_id

ITEMS = 50
Ledger = dict[str, Counter[str]]  # what each side effect recorded, by idempotency key


class Facts(BaseModel):
    dispute_id: str
    resolvable: bool


class Resolution(BaseModel):
    resolution_id: str


class Ticket(BaseModel):
    ticket_id: str


@tool()
async def check_dispute(ctx: ToolContext[Ledger], dispute_id: str) -> Facts:
    """Read a dispute's facts.

    Args:
        dispute_id: The dispute, e.g. D-7.
    """
    return Facts(dispute_id=dispute_id, resolvable=int(dispute_id.split("-")[1]) % 5 != 0)


@tool(side_effect=True)
async def resolve_dispute(ctx: ToolContext[Ledger], dispute_id: str) -> Resolution:
    """Resolve a dispute in the customer's favour.

    Args:
        dispute_id: The dispute, e.g. D-7.
    """
    await asyncio.sleep(0.2)  # long enough for a kill to land between the write and the report
    ctx.deps["resolved"][ctx.idempotency_key] += 1  # keyed like a unique constraint would be
    return Resolution(resolution_id=f"R-{dispute_id}")


@tool(side_effect=True)
async def escalate_to_human(ctx: ToolContext[Ledger], reason: str, summary: str) -> Ticket:
    """Hand the dispute to a human.

    Args:
        reason: Why.
        summary: The case.
    """
    ctx.deps["tickets"][ctx.idempotency_key] += 1
    return Ticket(ticket_id=f"T-{len(ctx.deps['tickets'])}")


class DisputeModel:
    """Check the dispute; resolve it when its facts allow, else escalate; then answer."""

    def reply(self, messages: list[dict[str, Any]], tool_names: set[str]) -> ScriptedReply:
        dispute = re.search(r"D-\d+", first_user_text(messages))
        did = dispute.group(0) if dispute else "D-0"
        seen = {o.tool: o for o in observations(messages)}
        if "check_dispute" not in seen:
            return ScriptedReply(tool_calls=[call_of("check_dispute", dispute_id=did)])
        facts = seen["check_dispute"].data
        if facts.get("resolvable") and "resolve_dispute" not in seen:
            return ScriptedReply(tool_calls=[call_of("resolve_dispute", dispute_id=did)])
        if not facts.get("resolvable") and "escalate_to_human" not in seen:
            call = call_of("escalate_to_human", reason="not resolvable", summary=did)
            return ScriptedReply(tool_calls=[call])
        return ScriptedReply(content=f"{did} resolved as R-{did}.")


AGENT = Agent[Ledger](
    name="disputes",
    instructions=Instructions(
        versions=(PromptVersion(version="d1", text="You settle disputes.", changelog="first"),), current="d1"
    ),
    tools=(check_dispute, resolve_dispute, escalate_to_human),
    escalation=EscalationPolicy(tool="escalate_to_human"),
)


def batch_worker(client: Client, queue: str, ledger: Ledger) -> Worker:
    provider = OpenAIProvider(
        SCRIPTED_URL, default_model="scripted", transport=ScriptedTransport(ScriptBook({}, DisputeModel()))
    )
    return build_worker(
        client, queue, [AGENT], provider, {AGENT.name: ledger}, **worker_options({}, strict=True)
    )


async def test_fifty_disputes_with_the_worker_killed_mid_batch(env: WorkflowEnvironment) -> None:
    ledger: Ledger = {"resolved": Counter(), "tickets": Counter()}
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    batch_id = f"batch-{uuid.uuid4().hex[:8]}"
    request = BatchRequest(
        items=tuple(f"Dispute D-{n}: the customer disputes a charge." for n in range(1, ITEMS + 1)),
        agent=AGENT.name,
        max_concurrency=5,
        limits=AgentLimits(max_turns=6, escalation_timeout_s=60),
    )
    first = batch_worker(env.client, queue, ledger)
    running = asyncio.ensure_future(first.run())
    handle = await env.client.start_workflow(BatchWorkflow.run, request, id=batch_id, task_queue=queue)
    for _ in range(1200):  # until about a fifth of the batch is done
        at_kill = await handle.query(BatchWorkflow.batch_status)
        if at_kill.done >= 10:
            break
        await asyncio.sleep(0.1)
    assert 10 <= at_kill.done < at_kill.started < ITEMS  # mid-batch: some done, some running, some not begun
    running.cancel()  # the worker dies mid-batch: its in-flight tasks and activities are abandoned
    await asyncio.gather(running, return_exceptions=True)
    async with batch_worker(env.client, queue, ledger):  # a new worker picks the batch up
        result: BatchResult = await handle.result()
    assert [item.index for item in result.items] == list(range(ITEMS))
    assert [item.workflow_id for item in result.items] == [item_id(batch_id, n) for n in range(ITEMS)]
    escalated = {n for n in range(ITEMS) if (n + 1) % 5 == 0}
    assert {i.index for i in result.items if i.outcome == "escalated"} == escalated
    assert (result.resolved, result.escalated) == (ITEMS - len(escalated), len(escalated))
    assert all(i.status == RunState.COMPLETED for i in result.items if i.outcome == "resolved")
    # Exactly once: one resolution per resolvable item, one ticket per other, whatever the kill redid.
    resolved_items = [key.split(":")[0] for key in ledger["resolved"]]
    assert sorted(resolved_items) == sorted(item_id(batch_id, n) for n in range(ITEMS) if n not in escalated)
    assert sorted(key.split(":")[0] for key in ledger["tickets"]) == sorted(
        item_id(batch_id, n) for n in escalated
    )
