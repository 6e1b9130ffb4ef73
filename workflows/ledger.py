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
The cost is two RPCs per model call (reserve, settle) through activities (activities/ledger.py), since a
workflow cannot send an update to another workflow; update-with-start creates the day's ledger on first use.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.ledger import (
        LedgerBalance,
        LedgerInput,
        LedgerState,
        Reservation,
        ReserveRequest,
        ReserveResult,
        SettleRequest,
    )


def ledger_day(now: datetime) -> date:
    """The UTC calendar day of the caller's `workflow.now()` (naive means UTC)."""
    return (now if now.tzinfo else now.replace(tzinfo=UTC)).astimezone(UTC).date()


def ledger_id(user_id: str, day: date) -> str:
    return f"ledger-{user_id}-{day.isoformat()}"


def key_of(run_id: str, call_id: str) -> str:
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
        key = key_of(req.run_id, req.call_id)
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
        key = key_of(req.run_id, req.call_id)
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
