"""process_return: the precheck refuses what the write would refuse, and a return is written at most once."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agents.shop.models import ReturnCheck, ReturnResult
from agents.shop.store import ShopStore
from core.errors import AgentError, InvalidInputError, NotFoundError, PermissionDeniedError
from tests.shop_support import Shop, open_test_shop


@pytest.fixture
async def shop(tmp_path: Path) -> Shop:
    return await open_test_shop(tmp_path)


def ret(order_id: str, sku: str | None = None, quantity: int | None = None) -> dict[str, Any]:
    args: dict[str, Any] = {"order_id": order_id, "reason": "arrived damaged"}
    return args | ({"sku": sku} if sku else {}) | ({"quantity": quantity} if quantity else {})


async def test_precheck_shows_the_refund_and_writes_nothing(shop: Shop) -> None:
    check = await shop.precheck("process_return", ret("ORD-1002"))
    assert isinstance(check, ReturnCheck) and check.would_succeed
    assert [(x.sku, x.quantity, x.refund) for x in check.lines] == [
        ("MUG-330", 2, Decimal("48.00")),
        ("FRP-350", 1, Decimal("27.50")),
    ]
    assert check.refund_total == Decimal("75.50") and check.currency == "EUR"
    assert await shop.store.count("returns") == 3 and await shop.store.count("idempotency") == 0


REFUSALS = [
    (ret("ORD-1005"), PermissionDeniedError, "has not shipped yet"),
    (ret("ORD-1004"), PermissionDeniedError, "on its way"),
    (ret("ORD-1006"), PermissionDeniedError, "already returned"),
    (ret("ORD-1003"), PermissionDeniedError, "return window"),
    (ret("ORD-1007", "GFT-050"), PermissionDeniedError, "final sale"),
    (ret("ORD-1002", "KET-200"), InvalidInputError, "not on ORD-1002"),
    (ret("ORD-1002", "MUG-330", 3), InvalidInputError, "at most 2"),
    (ret("ORD-1008", "TWL-070", 3), InvalidInputError, "2 already returned, so at most 2"),
    (ret("ORD-9999"), NotFoundError, "no order"),
]


@pytest.mark.parametrize(("args", "error", "says"), REFUSALS)
async def test_precheck_and_write_refuse_alike(
    shop: Shop, args: dict[str, Any], error: type[AgentError], says: str
) -> None:
    # Nobody is asked to approve a call that is bound to fail, and the write refuses it anyway.
    with pytest.raises(error, match=says):
        await shop.precheck("process_return", args)
    with pytest.raises(error, match=says):
        await shop.call("process_return", args)
    assert await shop.store.count("returns") == 3 and await shop.store.count("idempotency") == 0


async def test_quantity_needs_a_sku(shop: Shop) -> None:
    with pytest.raises(InvalidInputError):
        await shop.precheck("process_return", {"order_id": "ORD-1002", "reason": "x", "quantity": 1})


async def test_return_window_is_judged_on_the_clock(shop: Shop) -> None:
    # ORD-1009 was delivered 29 days before the seed day: one day of its 30 is left.
    assert (await shop.precheck("process_return", ret("ORD-1009"))).would_succeed
    shop.days_later = 1
    assert (await shop.precheck("process_return", ret("ORD-1009"))).would_succeed
    shop.days_later = 2
    with pytest.raises(PermissionDeniedError, match="ended on"):
        await shop.precheck("process_return", ret("ORD-1009"))


async def test_return_authorises_refund_and_marks_the_order(shop: Shop) -> None:
    result = await shop.call("process_return", ret("ORD-1001"), key="wf-1:c7")
    assert isinstance(result, ReturnResult) and result.status == "authorised"
    assert result.return_id.startswith("RET-") and result.return_id in result.message
    assert result.refund_total == Decimal("49.90") and "49.90 EUR" in result.message
    order = await shop.call("check_order_status", {"order_id": "ORD-1001"})
    assert order.status == "returned" and not order.returnable


async def test_partial_then_rest_then_nothing(shop: Shop) -> None:
    one = await shop.call("process_return", ret("ORD-1002", "MUG-330", 1), key="wf-1:a")
    assert one.refund_total == Decimal("24.00")
    order = await shop.call("check_order_status", {"order_id": "ORD-1002"})
    assert order.status == "delivered" and order.lines[0].returned_quantity == 1
    rest = await shop.call("process_return", ret("ORD-1002"), key="wf-1:b")
    assert [(x.sku, x.quantity) for x in rest.lines] == [("MUG-330", 1), ("FRP-350", 1)]
    assert (await shop.call("check_order_status", {"order_id": "ORD-1002"})).status == "returned"
    with pytest.raises(PermissionDeniedError, match="already returned"):
        await shop.call("process_return", ret("ORD-1002"), key="wf-1:c")


async def test_whole_order_skips_final_sale_lines(shop: Shop) -> None:
    result = await shop.call("process_return", ret("ORD-1007"))
    assert [x.sku for x in result.lines] == ["BTL-750"] and result.refund_total == Decimal("22.00")


# ── at most once ────────────────────────────────────────────────────────────


async def test_same_key_twice_writes_one_return(shop: Shop) -> None:
    first = await shop.call("process_return", ret("ORD-1001"), key="wf-2:call-1")
    again = await shop.call("process_return", ret("ORD-1001"), key="wf-2:call-1")
    assert first == again
    assert await shop.store.count("returns") == 4 and await shop.store.count("return_lines") == 4


async def test_unique_key_backs_run_once(shop: Shop) -> None:
    await shop.call("process_return", ret("ORD-1001"), key="wf-2:call-1")

    def sneak_in(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO returns (id, order_id, reason, refund_cents, currency, status, idempotency_key,"
            " created_at) VALUES ('RET-OTHER', 'ORD-1002', 'x', 1, 'EUR', 'authorised', 'wf-2:call-1', 'now')"
        )

    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        await shop.store.write(sneak_in)


async def test_concurrent_retries_of_one_call_write_once(shop: Shop) -> None:
    results = await asyncio.gather(
        *(shop.call("process_return", ret("ORD-1011"), key="wf-3:call-1") for _ in range(8))
    )
    assert len({r.return_id for r in results}) == 1
    assert await shop.store.count("returns") == 4 and await shop.store.count("idempotency") == 1


async def test_concurrent_returns_of_one_order_by_two_workers(shop: Shop, tmp_path: Path) -> None:
    # Two runs (different keys), on two store objects like two worker processes on one file: the
    # second sees the first's return inside its write lock and is refused, never refunded twice.
    other = Shop(store=ShopStore(tmp_path / ShopStore.FILENAME), day=shop.day)
    calls = [
        (shop if i % 2 else other).call("process_return", ret("ORD-1015"), key=f"wf-{i}:call-1")
        for i in range(6)
    ]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    won = [o for o in outcomes if isinstance(o, ReturnResult)]
    assert len(won) == 1
    assert all(isinstance(o, PermissionDeniedError) for o in outcomes if o not in won)
    assert await shop.store.count("returns") == 4 and await shop.store.integrity_check() == "ok"
