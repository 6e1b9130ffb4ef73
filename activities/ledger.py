"""The activities the agent workflow calls to reach a user's daily ledger (a workflow cannot send an
update to another workflow): update-with-start, so the day's ledger is created on first use."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy

from core.errors import BudgetExceededError
from core.ledger import LedgerBalance, LedgerCall, LedgerInput, ReserveRequest, ReserveResult, SettleRequest
from workflows.ledger import UserDayLedgerWorkflow, key_of, ledger_id


class LedgerActivities:
    """Reaches the day's ledger through update-with-start; the ledger runs on `task_queue`."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    def _start(self, call: LedgerCall) -> WithStartWorkflowOperation[UserDayLedgerWorkflow, LedgerBalance]:
        return WithStartWorkflowOperation(
            UserDayLedgerWorkflow.run,
            LedgerInput(user_id=call.user_id, day=call.day, limits=call.limits),
            id=ledger_id(call.user_id, call.day),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )

    @activity.defn(name="ledger.reserve")
    async def reserve(self, call: LedgerCall) -> ReserveResult:
        req = ReserveRequest(run_id=call.run_id, call_id=call.call_id, tokens=call.tokens, usd=call.usd)
        try:
            return await self.client.execute_update_with_start_workflow(
                UserDayLedgerWorkflow.reserve,
                req,
                start_workflow_operation=self._start(call),
                id=f"reserve:{key_of(call.run_id, call.call_id)}",
            )
        except WorkflowUpdateFailedError as exc:
            # The validator refused (e.g. the day's ledger is closed): a refusal, never a retry loop.
            return ReserveResult(granted=False, remaining_usd=0.0, remaining_tokens=0, reason=_why(exc))

    @activity.defn(name="ledger.settle")
    async def settle(self, call: LedgerCall) -> LedgerBalance:
        req = SettleRequest(
            run_id=call.run_id, call_id=call.call_id, actual_tokens=call.tokens, actual_usd=call.usd
        )
        try:
            return await self.client.execute_update_with_start_workflow(
                UserDayLedgerWorkflow.settle,
                req,
                start_workflow_operation=self._start(call),
                id=f"settle:{key_of(call.run_id, call.call_id)}",
            )
        except WorkflowUpdateFailedError as exc:
            raise BudgetExceededError(
                f"could not settle on the ledger: {_why(exc)}"
            ).to_application_error() from None


def _why(exc: WorkflowUpdateFailedError) -> str:
    cause = exc.cause
    return str(getattr(cause, "message", None) or cause or exc)
