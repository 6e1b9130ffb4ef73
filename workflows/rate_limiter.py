"""The fleet's rate limit for one model or tool: an entity workflow that grants leases in time.

Why an entity workflow (as the per-user daily ledger, workflows/ledger.py):
- Temporal runs its update handlers one at a time: leases from every worker are ordered without a lock.
- Its state is in Temporal, not in a worker: a worker that dies takes nothing with it, and a restarted
  fleet finds the budget where it was (Temporal's task-queue rate limit counts requests only, and
  resets with the worker).
- A grant is a time, not a yes/no: the caller learns at once how long to wait (and can say so), and the
  limiter never polls.

The budget is the provider's own rule, a rolling minute: a lease is granted at the earliest time when
the minute before it holds fewer than rpm·headroom leases and at most tpm·headroom tokens including its
own. A 429 with Retry-After (`hold`) moves every later grant past it. One limiter takes leases at the
rate its workflow tasks complete (bench/ratelimit.py measures it); past that, a model's budget is split
over N limiters, each with 1/N of it, and each caller leases from one of them (see README).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.ratelimit import HoldOff, LeaseGrant, LeaseRequest, LimiterInput, LimiterState

WINDOW = timedelta(minutes=1)
# Leases per run before continue-as-new: the history stays small, the state rides along.
MAX_LEASES_PER_RUN = 2_000


def limiter_id(key: str) -> str:
    return f"ratelimit-{key}"


@workflow.defn(name="RateLimiter")
class RateLimiterWorkflow:
    @workflow.init
    def __init__(self, inp: LimiterInput) -> None:
        self._limit = inp.limit
        self._s = inp.state
        holders = inp.window_holders or ("",) * len(inp.window_at)
        # The leases of the last minute: when, how many tokens, and to whom.
        self._window: deque[tuple[datetime, int, str]] = deque(
            zip(inp.window_at, inp.window_tokens, holders, strict=True)
        )
        self._leases_this_run = 0

    @workflow.run
    async def run(self, inp: LimiterInput) -> LimiterState:
        await workflow.wait_condition(
            lambda: (
                self._leases_this_run >= MAX_LEASES_PER_RUN or workflow.info().is_continue_as_new_suggested()
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(self._carried())

    @workflow.update(name="lease")
    def lease(self, req: LeaseRequest) -> LeaseGrant:
        now = workflow.now()
        # The retry of an attempt whose worker died while it waited gets its slot back, not another.
        due = next((at for at, _, h in reversed(self._window) if h == req.holder and at > now), None)
        if due is not None:
            return LeaseGrant(key=self._limit.key, wait_s=(due - now).total_seconds(), held=False)
        at = self._earliest(max(now, self._s.hold_until or now), req.tokens)
        self._window.append((at, req.tokens, req.holder))
        self._leases_this_run += 1
        wait_s = (at - now).total_seconds()
        held = self._s.hold_until is not None and at == self._s.hold_until
        self._s = self._s.model_copy(
            update={"leases": self._s.leases + 1, "waited_s": self._s.waited_s + wait_s}
        )
        return LeaseGrant(key=self._limit.key, wait_s=wait_s, held=held)

    @workflow.signal(name="hold")
    def hold(self, off: HoldOff) -> None:
        """A provider said 429 with Retry-After: nobody is granted a call before then."""
        until = workflow.now() + timedelta(seconds=off.retry_after_s)
        if self._s.hold_until is None or until > self._s.hold_until:
            self._s = self._s.model_copy(update={"hold_until": until})
        self._s = self._s.model_copy(update={"holds": self._s.holds + 1})

    @workflow.query(name="state")
    def state(self) -> LimiterState:
        return self._s

    def _earliest(self, start: datetime, tokens: int) -> datetime:
        """The first time from `start` (never before an earlier grant) when the lease fits the minute."""
        limit = self._limit
        max_requests = max(1, int(limit.rpm * limit.headroom))
        max_tokens = None if limit.tpm is None else max(tokens, int(limit.tpm * limit.headroom))
        at = max(start, self._window[-1][0]) if self._window else start
        while self._window and self._window[0][0] <= at - WINDOW:
            self._window.popleft()
        while True:
            moved = at
            recent = [e for e in self._window if e[0] > at - WINDOW]
            if len(recent) >= max_requests:
                moved = max(moved, recent[len(recent) - max_requests][0] + WINDOW)
            if max_tokens is not None:
                used = sum(t for _, t, _ in recent)
                for when, spent, _ in recent:
                    if used + tokens <= max_tokens:
                        break
                    used -= spent
                    moved = max(moved, when + WINDOW)
            if moved == at:
                return at
            at = moved

    def _carried(self) -> LimiterInput:
        return LimiterInput(
            limit=self._limit,
            state=self._s,
            window_at=tuple(at for at, _, _ in self._window),
            window_tokens=tuple(t for _, t, _ in self._window),
            window_holders=tuple(h for _, _, h in self._window),
        )
