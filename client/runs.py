"""AgentClient: start a run (or join the one with the same id), decide, reply, cancel, read its state."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.workflow_streams import WorkflowStreamClient
from temporalio.exceptions import WorkflowAlreadyStartedError

from client.queries import QUERY_TIMEOUT, query
from core import search_attributes as sa
from core.models import (
    AgentRequest,
    AgentResult,
    ApproveSignal,
    CancelSignal,
    DecideResult,
    DecideUpdate,
    DenySignal,
    HumanReplySignal,
    ProgressPage,
    RunStatus,
)
from workflows.agent import AgentWorkflow

RunHandle = WorkflowHandle[AgentWorkflow, AgentResult]


class AgentClient:
    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    async def start(
        self,
        request: AgentRequest,
        *,
        workflow_id: str | None = None,
        prompt_version: str | None = None,
        fork_parent: str | None = None,
        memo: Mapping[str, Any] | None = None,
    ) -> RunHandle:
        """Start a run; the same `workflow_id` again joins that run (running or finished) instead.
        `memo` is kept beside the run, not in its input (the HTTP API records who started it)."""
        run_id = workflow_id or f"agent-{uuid.uuid4().hex[:12]}"
        try:
            return await self.client.start_workflow(
                AgentWorkflow.run,
                request,
                id=run_id,
                task_queue=self.task_queue,
                # A second start of the same request id joins the running run instead of starting another.
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # ...and once it has finished, the id stays taken: the caller gets that run's result.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=sa.at_start(request.user_id, request.agent, prompt_version, fork_parent),
                memo=dict(memo) if memo else None,
            )
        except WorkflowAlreadyStartedError:
            return self.handle(run_id)

    def handle(self, workflow_id: str) -> RunHandle:
        return self.client.get_workflow_handle_for(AgentWorkflow.run, workflow_id)

    async def approve(self, handle: RunHandle, approval: ApproveSignal) -> None:
        await handle.signal(AgentWorkflow.approve, approval)

    async def deny(self, handle: RunHandle, denial: DenySignal) -> None:
        await handle.signal(AgentWorkflow.deny, denial)

    async def decide(self, handle: RunHandle, decision: DecideUpdate) -> DecideResult:
        """Approve or deny synchronously: the update's validator refuses a wrong call or hash at once."""
        return await handle.execute_update(AgentWorkflow.decide, decision)

    async def reply(self, handle: RunHandle, reply: HumanReplySignal) -> None:
        await handle.signal(AgentWorkflow.human_reply, reply)

    async def cancel(self, handle: RunHandle, cancel: CancelSignal) -> None:
        await handle.signal(AgentWorkflow.cancel, cancel)

    async def status(self, handle: RunHandle) -> RunStatus:
        status: RunStatus = await query(handle, AgentWorkflow.status)
        return status

    async def progress(self, handle: RunHandle, since: int) -> ProgressPage:
        page: ProgressPage = await query(handle, AgentWorkflow.progress, since)
        return page

    async def stream_offset(self, handle: RunHandle) -> int | None:
        """The next offset of the run's workflow stream (workflows/live.py); None for a run started
        before runs had one. TimeoutError or RPCError while no worker answers."""
        try:
            return await asyncio.wait_for(
                WorkflowStreamClient(handle, client=self.client).get_offset(), QUERY_TIMEOUT.total_seconds()
            )
        except WorkflowQueryFailedError:  # no such query: the run has no stream
            return None
