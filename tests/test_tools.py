"""The demo tools through their Temporal activities: happy paths, typed errors, idempotency, size."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.tools.activities import build_tool_activities
from activities.tools.payload import fit, json_size
from agents.merchant_support import Store
from agents.merchant_support.domain import format_minor, to_minor
from agents.merchant_support.tools import ESCALATE_TOOL, REGISTRY
from bench.tool_faults import ToolFaults
from core.errors import InvalidInputError
from core.models import ToolInput, ToolOutput
from core.toolspec import ToolContext, ToolRegistry, ToolSpec
from tests.conftest import demo_with

REPO = Path(__file__).resolve().parents[1]


async def call(
    store: Store,
    tool: str,
    args: dict[str, Any],
    *,
    key: str = "wf-1:t1-1",
    attempt: int = 1,
    faults: ToolFaults | None = None,
    registry: ToolRegistry = REGISTRY,
    budget: int = 64 * 1024,
) -> ToolOutput:
    activities = build_tool_activities(demo_with(registry), store, faults, max_result_bytes=budget)
    # Activities come in registry order; this also proves build_tool_activities keeps that order.
    fn = activities[registry.names().index(tool)]
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    workflow_id, call_id = key.split(":")
    out = await env.run(
        fn, ToolInput(workflow_id=workflow_id, call_id=call_id, idempotency_key=key, args=args)
    )
    assert isinstance(out, ToolOutput)
    return out


def refund_args(txn: str = "pay_ABC124", amount: Any = "49.99", currency: str = "USD") -> dict[str, Any]:
    return {"transaction_id": txn, "amount": amount, "currency": currency, "reason": "duplicate charge"}


# ── catalog ─────────────────────────────────────────────────────────────────


def test_catalog_declares_six_tools_with_flags() -> None:
    assert len(REGISTRY.names()) == 6 and ESCALATE_TOOL in REGISTRY.names()
    flags = {s.name: (s.irreversible, s.side_effect) for s in REGISTRY}
    assert flags["initiate_refund"] == (True, True)
    assert flags["create_support_ticket"] == (False, True)
    assert flags[ESCALATE_TOOL] == (False, True)
    assert flags["get_transaction"] == (False, False)
    for schema in REGISTRY.schemas():
        assert schema.parameters["additionalProperties"] is False
        assert len(schema.description) > 40


def test_catalog_import_opens_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "AGENT_DATA_DIR": str(tmp_path)}
    subprocess.run(
        [sys.executable, "-c", "import agents.merchant_support"], cwd=tmp_path, env=env, check=True
    )
    assert list(tmp_path.iterdir()) == []


def test_money_is_exact() -> None:
    assert to_minor(Decimal("49.99"), "USD") == 4999
    assert to_minor(Decimal("1E+2"), "USD") == 10000
    assert to_minor(Decimal("500"), "JPY") == 500
    assert format_minor(4999, "USD") == "49.99" and format_minor(500, "JPY") == "500"
    with pytest.raises(InvalidInputError):
        to_minor(Decimal("1.5"), "JPY")


# ── happy paths ─────────────────────────────────────────────────────────────


async def test_get_transaction_flags_the_duplicate(store: Store) -> None:
    out = await call(store, "get_transaction", {"transaction_id": "pay_ABC123"})
    r = out.result
    assert r["amount"] == "49.99" and r["currency"] == "USD" and r["card_fingerprint"] == "fp_9f2c"
    assert r["refunded_total"] == "0.00" and r["refundable_amount"] == "49.99"
    # pay_ABC128 has the same amount minutes later but another card: not a duplicate.
    assert [d["transaction_id"] for d in r["possible_duplicates"]] == ["pay_ABC124"]
    assert not out.truncated


async def test_get_transaction_partially_refunded(store: Store) -> None:
    r = (await call(store, "get_transaction", {"transaction_id": "pay_ABC129"})).result
    assert r["status"] == "partially_refunded"
    assert r["refunded_total"] == "50.00" and r["refundable_amount"] == "100.00"


async def test_get_merchant_account(store: Store) -> None:
    r = (await call(store, "get_merchant_account", {"merchant_id": "MID001"})).result
    assert (r["name"], r["status"], r["currency"]) == ("Blue Bottle Crafts", "active", "USD")
    recent = [t["transaction_id"] for t in r["recent_transactions"]]
    assert recent == ["pay_ABC128", "pay_ABC124", "pay_ABC123", "pay_ABC125", "pay_ABC127"]


async def test_search_knowledge_base(store: Store) -> None:
    r = (await call(store, "search_knowledge_base", {"query": "duplicate charge refund", "limit": 2})).result
    assert len(r["results"]) == 2
    assert r["results"][0]["doc_id"] == "KB-001"


async def test_create_support_ticket_is_idempotent(store: Store) -> None:
    args = {
        "merchant_id": "MID002",
        "subject": "Payout delayed",
        "body": "Where is my payout?",
        "priority": "high",
    }
    first = await call(store, "create_support_ticket", args)
    again = await call(store, "create_support_ticket", args)
    assert first.result["status"] == "open"
    assert first.result == again.result
    assert await store.count("tickets") == 1


async def test_escalate_to_human(store: Store) -> None:
    args = {"reason": "Suspended merchant wants a refund", "summary": "200 GBP", "merchant_id": "MID003"}
    r = (await call(store, ESCALATE_TOOL, args)).result
    assert r["status"] == "escalated" and r["ticket_id"].startswith("esc_")
    assert r["note"] is None
    kind = await store.read(lambda c: c.execute("SELECT kind, priority FROM tickets").fetchone())
    assert tuple(kind) == ("escalation", "high")


async def test_escalate_with_unknown_merchant_still_escalates(store: Store) -> None:
    r = (await call(store, ESCALATE_TOOL, {"reason": "r", "summary": "s", "merchant_id": "MID999"})).result
    assert r["status"] == "escalated" and "MID999" in r["note"]


async def test_refund_happy_path(store: Store) -> None:
    r = (await call(store, "initiate_refund", refund_args(amount=49.99, currency="usd"))).result
    assert r["refund_id"].startswith("re_") and r["status"] == "succeeded"
    assert (r["transaction_id"], r["amount"], r["currency"]) == ("pay_ABC124", "49.99", "USD")
    txn = (await call(store, "get_transaction", {"transaction_id": "pay_ABC124"}, key="wf-1:t2-1")).result
    assert (txn["status"], txn["refundable_amount"]) == ("refunded", "0.00")


# ── typed errors ────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("tool", "args", "error_type"),
    [
        ("get_transaction", {"transaction_id": "pay_NOPE999"}, "NotFoundError"),
        ("get_transaction", {"transaction_id": "ABC123"}, "InvalidInputError"),
        ("get_transaction", {"transaction_id": "pay_ABC123", "extra": 1}, "InvalidInputError"),
        ("get_merchant_account", {"merchant_id": "MID999"}, "NotFoundError"),
        ("get_merchant_account", {"merchant_id": "MID1; DROP"}, "InvalidInputError"),
        ("search_knowledge_base", {"query": "x" * 501}, "InvalidInputError"),
        ("search_knowledge_base", {"query": "refund", "limit": 11}, "InvalidInputError"),
        ("create_support_ticket", {"merchant_id": "MID777", "subject": "s", "body": "b"}, "NotFoundError"),
        ("create_support_ticket", {"merchant_id": "MID001", "subject": "", "body": "b"}, "InvalidInputError"),
        ("initiate_refund", refund_args(txn="pay_NOPE999"), "NotFoundError"),
        ("initiate_refund", refund_args(currency="EUR"), "InvalidInputError"),
        ("initiate_refund", refund_args(amount="50.00"), "InvalidInputError"),
        ("initiate_refund", refund_args(amount="49.999"), "InvalidInputError"),
        ("initiate_refund", refund_args(amount=0), "InvalidInputError"),
        ("initiate_refund", refund_args(amount="1e9"), "InvalidInputError"),
        ("initiate_refund", refund_args(amount="NaN"), "InvalidInputError"),
        ("initiate_refund", refund_args(amount="$49.99"), "InvalidInputError"),
        ("initiate_refund", refund_args(txn="pay_ABC127", amount="89.00"), "InvalidInputError"),
        ("initiate_refund", refund_args(txn="pay_ABC126", amount="1.00"), "InvalidInputError"),
        ("initiate_refund", refund_args("pay_GHI301", "10.00", "GBP"), "PermissionDeniedError"),
        (ESCALATE_TOOL, {"reason": "", "summary": "s"}, "InvalidInputError"),
    ],
)
async def test_errors_are_typed_and_not_retried(store: Store, tool: str, args: Any, error_type: str) -> None:
    with pytest.raises(ApplicationError) as info:
        await call(store, tool, args)
    assert info.value.type == error_type
    assert info.value.non_retryable
    assert await store.count("refunds") == 2 and await store.count("tickets") == 0


async def test_over_refund_message_is_clear(store: Store) -> None:
    with pytest.raises(ApplicationError) as info:
        await call(store, "initiate_refund", refund_args(amount="50.00"))
    assert "exceeds the refundable 49.99 USD" in info.value.message


async def test_partial_refunds_cannot_exceed_the_charge(store: Store) -> None:
    await call(store, "initiate_refund", refund_args(txn="pay_ABC123", amount="30.00"), key="wf-1:t1-1")
    with pytest.raises(ApplicationError, match=r"refundable 19\.99 USD"):
        await call(store, "initiate_refund", refund_args(txn="pay_ABC123", amount="20.00"), key="wf-1:t2-1")
    await call(store, "initiate_refund", refund_args(txn="pay_ABC123", amount="19.99"), key="wf-1:t3-1")
    txn = (await call(store, "get_transaction", {"transaction_id": "pay_ABC123"}, key="wf-1:t4-1")).result
    assert (txn["status"], txn["refunded_total"]) == ("refunded", "49.99")


# ── idempotency under retries and races ─────────────────────────────────────


async def test_refund_twice_with_one_key_refunds_once(store: Store) -> None:
    first = await call(store, "initiate_refund", refund_args())
    second = await call(store, "initiate_refund", refund_args())
    assert first.result["refund_id"] == second.result["refund_id"]
    assert await store.count("refunds") == 3


async def test_retry_after_lost_report_returns_the_stored_refund(store: Store) -> None:
    faults = ToolFaults(fail_after_side_effect={"initiate_refund": 1})
    with pytest.raises(ApplicationError) as info:
        await call(store, "initiate_refund", refund_args(), faults=faults, attempt=1)
    assert info.value.type == "TransientError" and not info.value.non_retryable
    assert await store.count("refunds") == 3  # the write happened before the "crash"
    retried = await call(store, "initiate_refund", refund_args(), faults=faults, attempt=2)
    assert retried.result["status"] == "succeeded"
    assert await store.count("refunds") == 3


async def test_racing_refunds_of_one_payment_cannot_both_succeed(store: Store) -> None:
    keys = [f"wf-{i}:t1-1" for i in range(6)]
    outcomes = await asyncio.gather(
        *(call(store, "initiate_refund", refund_args(), key=k) for k in keys), return_exceptions=True
    )
    assert sum(isinstance(o, ToolOutput) for o in outcomes) == 1
    errors = [o for o in outcomes if isinstance(o, ApplicationError)]
    assert len(errors) == 5 and all(e.type == "InvalidInputError" for e in errors)
    assert await store.count("refunds") == 3


# ── unclassified errors and output size ─────────────────────────────────────


class Empty(BaseModel):
    pass


class Rows(BaseModel):
    rows: list[dict[str, Any]]
    text: str


async def _crash(ctx: ToolContext, args: BaseModel) -> BaseModel:
    raise RuntimeError("disk on fire")


async def _huge(ctx: ToolContext, args: BaseModel) -> BaseModel:
    return Rows(rows=[{"id": i, "pad": "x" * 100} for i in range(5000)], text="y" * 200_000)


async def test_unclassified_error_becomes_retryable_transient(store: Store) -> None:
    registry = ToolRegistry([ToolSpec(name="crash", description="d", args_model=Empty, handler=_crash)])
    with pytest.raises(ApplicationError) as info:
        await call(store, "crash", {}, registry=registry)
    assert info.value.type == "TransientError" and not info.value.non_retryable
    assert "RuntimeError" in info.value.message


async def test_huge_result_is_truncated_within_budget(store: Store) -> None:
    registry = ToolRegistry([ToolSpec(name="huge", description="d", args_model=Empty, handler=_huge)])
    out = await call(store, "huge", {}, registry=registry, budget=64 * 1024)
    assert out.truncated and out.note and "rows" in out.note and "text" in out.note
    assert json_size(out.result) <= 64 * 1024
    rows = out.result["rows"]
    assert 0 < len(rows) < 5000
    assert rows == [{"id": i, "pad": "x" * 100} for i in range(len(rows))]  # whole leading records


def test_fit_shrinks_inside_a_single_huge_record() -> None:
    fitted, note = fit({"items": [{"body": "z" * 10_000}]}, budget=1000)
    assert note and json_size(fitted) <= 1000
    assert fitted["items"][0]["body"].startswith("zzz")


def test_fit_falls_back_to_a_preview() -> None:
    flat = {f"k{i}": i for i in range(5000)}
    fitted, note = fit(flat, budget=2000)
    assert note and "preview" in fitted and json_size(fitted) <= 2000
    assert json.loads(json.dumps(fitted)) == fitted
