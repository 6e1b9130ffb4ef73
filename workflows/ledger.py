"""The per-user daily budget: one entity workflow per user and UTC day, reserve before a call, settle after.

Why an entity workflow and not a store with atomic reservation:
- Temporal runs a workflow's update handlers one at a time, so concurrent runs of one user are
  serialized by construction: no lock, no transaction isolation to get right, nothing to overspend.
- It is durable and shared by every worker on every host with no extra infrastructure; the SQLite
  store under AGENT_DATA_DIR is local to one host and would not be.
- Every reservation and settlement is an event in the ledger's history: the day's spending is
  auditable in the Temporal UI, and `balance` is a query.
- Idempotency is by (run_id, call_id): a retried update (activity retry, replayed caller) returns the
  first answer and changes nothing. Update ids make Temporal deduplicate too.
The cost is two RPCs per model call (reserve, settle) through activities, since a workflow cannot
send an update to another workflow; update-with-start creates the day's ledger on first use.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity, workflow
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy

from core.errors import BudgetExceededError
from core.guardrails import UserDayBudget
from core.models import Frozen

ID_PART = r"^[A-Za-z0-9_.@:/-]+$"


class ReserveRequest(Frozen):
    run_id: str = Field(min_length=1, max_length=256, pattern=ID_PART)
    call_id: str = Field(min_length=1, max_length=128, pattern=ID_PART)
    tokens: int = Field(ge=0, le=10_000_000)
    usd: float = Field(ge=0.0, le=1000.0, allow_inf_nan=False)


class ReserveResult(Frozen):
    granted: bool
    remaining_usd: float
    remaining_tokens: int
    reason: str = ""


class SettleRequest(Frozen):
    run_id: str = Field(min_length=1, max_length=256, pattern=ID_PART)
    call_id: str = Field(min_length=1, max_length=128, pattern=ID_PART)
    actual_tokens: int = Field(ge=0, le=10_000_000)
    actual_usd: float = Field(ge=0.0, le=1000.0, allow_inf_nan=False)


class LedgerBalance(Frozen):
    user_id: str
    day: str
    limit_usd: float
    limit_tokens: int
    settled_usd: float
    settled_tokens: int
    reserved_usd: float
    reserved_tokens: int
    remaining_usd: float
    remaining_tokens: int
    calls: int
    refused: int


class Reservation(Frozen):
    tokens: int
    usd: float
    at: datetime


class LedgerState(BaseModel):
    """Everything the ledger knows; carried whole across continue-as-new."""

    model_config = ConfigDict(extra="forbid")

    settled_usd: float = 0.0
    settled_tokens: int = 0
    open: dict[str, Reservation] = Field(default_factory=dict)
    decisions: dict[str, ReserveResult] = Field(default_factory=dict)
    settled: dict[str, float] = Field(default_factory=dict)
    refused: int = 0


class LedgerInput(Frozen):
    user_id: str = Field(min_length=1, max_length=128)
    day: date
    limits: UserDayBudget = UserDayBudget()
    state: LedgerState | None = None
    # A late settle (a call that began before midnight) still lands here within this grace.
    grace_s: float = Field(24 * 3600, ge=0)
    # An unsettled reservation (its run was terminated) is released after this long.
    reservation_ttl_s: float = Field(3600, gt=0)
    max_history: int = Field(10_000, ge=20)


def ledger_day(now: datetime) -> date:
    """The UTC calendar day of the caller's `workflow.now()` (naive means UTC)."""
    return (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(UTC).date()


def ledger_id(user_id: str, day: date) -> str:
    return f"ledger-{user_id}-{day.isoformat()}"


def _key(run_id: str, call_id: str) -> str:
    return f"{run_id}/{call_id}"


@workflow.defn(name="UserDayLedger")
class UserDayLedgerWorkflow:
    @workflow.init
    def __init__(self, inp: LedgerInput) -> None:
        self._inp = inp
        self._s = inp.state or LedgerState()
        self._closes_at = datetime.combine(inp.day + timedelta(days=1), time(), UTC) + timedelta(
            seconds=inp.grace_s
        )

    @workflow.run
    async def run(self, inp: LedgerInput) -> LedgerBalance:
        info = workflow.info()
        try:
            await workflow.wait_condition(
                lambda: (
                    info.is_continue_as_new_suggested() or info.get_current_history_length() > inp.max_history
                ),
                timeout=max(timedelta(0), self._closes_at - workflow.now()),
            )
        except TimeoutError:
            await workflow.wait_condition(workflow.all_handlers_finished)
            return self.balance()
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(inp.model_copy(update={"state": self._s}))

    @workflow.update(name="reserve")
    def reserve(self, req: ReserveRequest) -> ReserveResult:
        key = _key(req.run_id, req.call_id)
        if key in self._s.decisions:
            return self._s.decisions[key]
        self._expire(workflow.now())
        balance = self.balance()
        over_usd = balance.remaining_usd < req.usd
        over_tokens = balance.remaining_tokens < req.tokens
        if over_usd or over_tokens:
            self._s.refused += 1
            result = ReserveResult(
                granted=False,
                remaining_usd=balance.remaining_usd,
                remaining_tokens=balance.remaining_tokens,
                reason=self._refusal(balance, req, over_usd),
            )
        else:
            self._s.open[key] = Reservation(tokens=req.tokens, usd=req.usd, at=workflow.now())
            result = ReserveResult(
                granted=True,
                remaining_usd=round(balance.remaining_usd - req.usd, 10),
                remaining_tokens=balance.remaining_tokens - req.tokens,
            )
        self._s.decisions[key] = result
        return result

    @reserve.validator
    def _validate_reserve(self, req: ReserveRequest) -> None:
        self._refuse_if_closed()

    @workflow.update(name="settle")
    def settle(self, req: SettleRequest) -> LedgerBalance:
        """Replace a call's reservation by its actual cost; settle with 0 to release a failed call."""
        key = _key(req.run_id, req.call_id)
        if key not in self._s.settled:
            self._s.open.pop(key, None)
            self._s.settled[key] = req.actual_usd
            self._s.settled_usd = round(self._s.settled_usd + req.actual_usd, 10)
            self._s.settled_tokens += req.actual_tokens
        return self.balance()

    @settle.validator
    def _validate_settle(self, req: SettleRequest) -> None:
        self._refuse_if_closed()

    @workflow.query(name="balance")
    def balance(self) -> LedgerBalance:
        limits, s = self._inp.limits, self._s
        reserved_usd = round(sum(r.usd for r in s.open.values()), 10)
        reserved_tokens = sum(r.tokens for r in s.open.values())
        return LedgerBalance(
            user_id=self._inp.user_id,
            day=self._inp.day.isoformat(),
            limit_usd=limits.max_cost_usd,
            limit_tokens=limits.max_tokens,
            settled_usd=s.settled_usd,
            settled_tokens=s.settled_tokens,
            reserved_usd=reserved_usd,
            reserved_tokens=reserved_tokens,
            remaining_usd=max(0.0, round(limits.max_cost_usd - s.settled_usd - reserved_usd, 10)),
            remaining_tokens=max(0, limits.max_tokens - s.settled_tokens - reserved_tokens),
            calls=len(s.settled),
            refused=s.refused,
        )

    def _refuse_if_closed(self) -> None:
        if workflow.now() >= self._closes_at:
            raise ValueError(f"the ledger of {self._inp.user_id} for {self._inp.day} is closed")

    def _expire(self, now: datetime) -> None:
        ttl = timedelta(seconds=self._inp.reservation_ttl_s)
        for key in [k for k, r in self._s.open.items() if now - r.at > ttl]:
            del self._s.open[key]

    def _refusal(self, balance: LedgerBalance, req: ReserveRequest, over_usd: bool) -> str:
        who = f"{self._inp.user_id}'s daily budget for {self._inp.day} (UTC)"
        if over_usd:
            return (
                f"{who} is spent: ${balance.settled_usd:.4f} used and ${balance.reserved_usd:.4f} reserved "
                f"of ${balance.limit_usd:.2f}; this call needs ~${req.usd:.4f}. It resets at 00:00 UTC."
            )
        return (
            f"{who} is spent: {balance.settled_tokens + balance.reserved_tokens} of "
            f"{balance.limit_tokens} tokens used or reserved; this call needs ~{req.tokens}. "
            "It resets at 00:00 UTC."
        )


# ── the activities the agent workflow calls (a workflow cannot update another workflow) ─────


class LedgerCall(Frozen):
    user_id: str = Field(min_length=1, max_length=128)
    day: date
    limits: UserDayBudget = UserDayBudget()
    run_id: str
    call_id: str
    tokens: int = 0
    usd: float = 0.0


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
                id=f"reserve:{_key(call.run_id, call.call_id)}",
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
                id=f"settle:{_key(call.run_id, call.call_id)}",
            )
        except WorkflowUpdateFailedError as exc:
            raise BudgetExceededError(
                f"could not settle on the ledger: {_why(exc)}"
            ).to_application_error() from None


def _why(exc: WorkflowUpdateFailedError) -> str:
    cause = exc.cause
    return str(getattr(cause, "message", None) or cause or exc)
