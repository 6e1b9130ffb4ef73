"""BatchWorkflow: the items of a batch as AgentWorkflow children, at most `max_concurrency` at a time.

Why children and not activities or one long loop: each item is a full agent run (approvals, budgets,
escalation, its own history and trace), visible and retryable on its own; the parent only counts. Its
history is its memory: after a crash the replayed parent knows which children started and which
ended, so none starts twice (ids are deterministic) and none is skipped.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from core.batch import BatchItem, BatchProgress, BatchRequest, BatchResult
    from workflows.agent import AgentWorkflow


def item_id(batch_id: str, index: int) -> str:
    return f"{batch_id}/item-{index}"


@workflow.defn(name="BatchWorkflow")
class BatchWorkflow:
    @workflow.init
    def __init__(self, request: BatchRequest) -> None:
        self._done: dict[int, BatchItem] = {}
        self._started = 0

    @workflow.run
    async def run(self, request: BatchRequest) -> BatchResult:
        gate = asyncio.Semaphore(request.max_concurrency)
        await asyncio.gather(*(self._item(gate, request, n, task) for n, task in enumerate(request.items)))
        items = tuple(self._done[n] for n in range(len(request.items)))
        resolved = sum(item.outcome == "resolved" for item in items)
        return BatchResult(items=items, resolved=resolved, escalated=len(items) - resolved)

    async def _item(self, gate: asyncio.Semaphore, request: BatchRequest, index: int, task: str) -> None:
        async with gate:
            child = item_id(workflow.info().workflow_id, index)
            run = m.AgentRequest(
                task=task, agent=request.agent, user_id=request.user_id, limits=request.limits
            )
            self._started += 1
            try:
                result = await workflow.execute_child_workflow(
                    AgentWorkflow.run,
                    run,
                    id=child,
                    # A cancelled batch cancels its items; a terminated parent leaves them to finish.
                    parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                    static_summary=f"item {index}",
                )
                status, answer = result.status, result.answer
            except ChildWorkflowError as err:  # terminated, timed out: a human must look at it
                status, answer = (
                    m.RunState.FAILED,
                    f"the item's run ended without a result: {err.cause or err}",
                )
        outcome = "resolved" if status == m.RunState.COMPLETED else "escalated"
        self._done[index] = BatchItem(
            index=index, workflow_id=child, outcome=outcome, status=status, answer=answer[:500]
        )

    @workflow.query(name="batch_status")
    def batch_status(self) -> BatchProgress:
        resolved = sum(item.outcome == "resolved" for item in self._done.values())
        return BatchProgress(started=self._started, done=len(self._done), resolved=resolved)
