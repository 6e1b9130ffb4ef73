"""The per-user daily ledger on the time-skipping server: exact under concurrency, idempotent, per day."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.ledger import LedgerActivities
from core.guardrails import UserDayBudget
from core.ledger import LedgerBalance, LedgerCall, LedgerInput, ReserveRequest
from core.worker_options import worker_options
from workflows.ledger import UserDayLedgerWorkflow, ledger_day, ledger_id

LIMITS = UserDayBudget(max_cost_usd=1.0, max_tokens=1_000_000)


# One worker for the whole module (the time-skipping server's lifetime, tests/conftest.py): ledgers stay
# open until their day closes, and a server that reaches a ledger's timer with no worker on its queue
# would wait forever.
@pytest.fixture(scope="module")
async def ledger(env: WorkflowEnvironment) -> AsyncIterator[LedgerActivities]:
    queue = f"tq-ledger-{uuid.uuid4().hex[:8]}"
    worker = Worker(
        env.client,
        task_queue=queue,
        workflows=[UserDayLedgerWorkflow],
        **worker_options({}, strict=True),  # production's options; every task replays
    )
    async with worker:
        yield LedgerActivities(env.client, queue)


async def today(env: WorkflowEnvironment) -> date:
    return ledger_day(await env.get_current_time())


def user() -> str:
    return f"u{uuid.uuid4().hex[:8]}"


def call(user_id: str, day: date, run: str, n: int, usd: float, tokens: int = 100) -> LedgerCall:
    return LedgerCall(
        user_id=user_id, day=day, limits=LIMITS, run_id=run, call_id=f"t{n}", tokens=tokens, usd=usd
    )


async def balance(env: WorkflowEnvironment, user_id: str, day: date) -> LedgerBalance:
    handle = env.client.get_workflow_handle(ledger_id(user_id, day))
    return await handle.query(UserDayLedgerWorkflow.balance)


async def one_run(ledger: LedgerActivities, user_id: str, day: date, run: str, calls: int) -> list[float]:
    """A run that reserves 0.03 per call, spends 0.02, and stops at its first refusal."""
    settled: list[float] = []
    for n in range(calls):
        result = await ledger.reserve(call(user_id, day, run, n, 0.03))
        if not result.granted:
            assert "daily budget" in result.reason and "resets at 00:00 UTC" in result.reason
            break
        await ledger.settle(call(user_id, day, run, n, 0.02, tokens=80))
        settled.append(0.02)
    return settled


async def test_concurrent_runs_never_overspend_and_stay_exact(
    env: WorkflowEnvironment, ledger: LedgerActivities
) -> None:
    user_id, day = user(), await today(env)
    spent = await asyncio.gather(*(one_run(ledger, user_id, day, f"run{r}", 30) for r in range(5)))
    total = sum(sum(s) for s in spent)
    final = await balance(env, user_id, day)
    assert final.settled_usd == pytest.approx(total)
    assert final.settled_usd <= LIMITS.max_cost_usd
    assert final.reserved_usd == 0.0  # every reservation was settled or never granted
    assert final.calls == sum(len(s) for s in spent)
    assert final.settled_tokens == 80 * final.calls
    assert final.refused >= 1  # 150 calls at 0.02 cannot fit in $1.00
    # A reservation is granted only while settled + reserved + estimate fits: at most $0.03 short.
    assert final.settled_usd > LIMITS.max_cost_usd - 0.03 - 1e-9


async def test_a_refusal_is_a_clear_answer(env: WorkflowEnvironment, ledger: LedgerActivities) -> None:
    user_id, day = user(), await today(env)
    assert (await ledger.reserve(call(user_id, day, "r", 1, 0.6))).granted
    refused = await ledger.reserve(call(user_id, day, "r", 2, 0.6))
    assert not refused.granted
    assert refused.remaining_usd == pytest.approx(0.4)
    assert user_id in refused.reason and day.isoformat() in refused.reason and "$1.00" in refused.reason


async def test_retried_updates_change_nothing(env: WorkflowEnvironment, ledger: LedgerActivities) -> None:
    user_id, day = user(), await today(env)
    first = await ledger.reserve(call(user_id, day, "r", 1, 0.3))
    again = await ledger.reserve(call(user_id, day, "r", 1, 0.3))
    assert first == again
    assert (await balance(env, user_id, day)).reserved_usd == pytest.approx(0.3)
    await ledger.settle(call(user_id, day, "r", 1, 0.25))
    await ledger.settle(call(user_id, day, "r", 1, 0.25))
    # A retried reserve after its settle still returns the first answer and reserves nothing.
    assert await ledger.reserve(call(user_id, day, "r", 1, 0.3)) == first
    final = await balance(env, user_id, day)
    assert (final.settled_usd, final.reserved_usd, final.calls) == (pytest.approx(0.25), 0.0, 1)


async def test_settle_zero_releases_a_failed_call(env: WorkflowEnvironment, ledger: LedgerActivities) -> None:
    user_id, day = user(), await today(env)
    assert (await ledger.reserve(call(user_id, day, "r", 1, 0.9))).granted
    assert not (await ledger.reserve(call(user_id, day, "r", 2, 0.2))).granted
    await ledger.settle(call(user_id, day, "r", 1, 0.0, tokens=0))
    assert (await ledger.reserve(call(user_id, day, "r", 3, 0.2))).granted


async def test_each_utc_day_has_its_own_ledger(env: WorkflowEnvironment, ledger: LedgerActivities) -> None:
    late = datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC)
    assert ledger_day(late) != ledger_day(late + timedelta(seconds=1))
    assert ledger_day(datetime(2026, 3, 2, 0, 30, tzinfo=UTC).astimezone()) == date(2026, 3, 2)
    user_id, day = user(), await today(env)
    tomorrow = day + timedelta(days=1)
    assert ledger_id(user_id, day) != ledger_id(user_id, tomorrow)
    assert (await ledger.reserve(call(user_id, day, "r", 1, 0.9))).granted
    assert (await ledger.reserve(call(user_id, tomorrow, "r", 2, 0.9))).granted
    assert (await balance(env, user_id, tomorrow)).reserved_usd == pytest.approx(0.9)


async def test_invalid_and_closed_requests_are_rejected(
    env: WorkflowEnvironment, ledger: LedgerActivities
) -> None:
    user_id = user()
    old = await today(env) - timedelta(days=5)
    # A closed day's ledger refuses: the activity turns the refusal into granted=False (never a retry loop).
    closed = await ledger.reserve(call(user_id, old, "r", 1, 0.1))
    assert not closed.granted and "closed" in closed.reason
    day = await today(env)
    await ledger.reserve(call(user_id, day, "r", 1, 0.1))
    handle = env.client.get_workflow_handle(ledger_id(user_id, day))
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            UserDayLedgerWorkflow.reserve,
            ReserveRequest.model_construct(run_id="r", call_id="x", tokens=-5, usd=1.0),
        )


async def test_continue_as_new_keeps_the_books(env: WorkflowEnvironment, ledger: LedgerActivities) -> None:
    user_id, day = user(), await today(env)
    handle = await env.client.start_workflow(
        UserDayLedgerWorkflow.run,
        LedgerInput(user_id=user_id, day=day, limits=LIMITS, max_history=20),
        id=ledger_id(user_id, day),
        task_queue=ledger.task_queue,
    )
    first_run = handle.result_run_id
    for n in range(12):
        assert (await ledger.reserve(call(user_id, day, "r", n, 0.05))).granted
        await ledger.settle(call(user_id, day, "r", n, 0.04))
    assert await ledger.reserve(call(user_id, day, "r", 0, 0.05)) == (
        await ledger.reserve(call(user_id, day, "r", 0, 0.05))
    )
    final = await balance(env, user_id, day)
    described = await env.client.get_workflow_handle(handle.id).describe()
    assert described.run_id != first_run
    assert (final.settled_usd, final.calls) == (pytest.approx(0.48), 12)
