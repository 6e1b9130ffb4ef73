"""The shop's read tools and its escalation tool against a real seeded store: answers and typed errors."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from agents.shop.models import OrderStatus, ProductInfo, ShippingInfo, TicketResult
from core.errors import InvalidInputError, NotFoundError
from tests.shop_support import Shop, open_test_shop


@pytest.fixture
async def shop(tmp_path: Path) -> Shop:
    return await open_test_shop(tmp_path)


# ── get_product_info ────────────────────────────────────────────────────────


async def test_product_by_sku_or_id_gives_price_and_stock_per_warehouse(shop: Shop) -> None:
    by_sku = await shop.call("get_product_info", {"product": " ket-200 "})
    by_id = await shop.call("get_product_info", {"product": "PRD-1001"})
    assert isinstance(by_sku, ProductInfo)
    assert by_sku == by_id
    assert (by_sku.sku, by_sku.name) == ("KET-200", "Electric kettle 1.7 l, blue")
    assert by_sku.price == Decimal("49.90") and isinstance(by_sku.price, Decimal)
    assert {s.city: s.quantity for s in by_sku.stock} == {"Berlin": 0, "Rotterdam": 12, "Warsaw": 5}
    assert (by_sku.in_stock, by_sku.total_stock, by_sku.returnable) == (True, 17, True)
    assert '"price":"49.90"' in by_sku.model_dump_json()


async def test_product_out_of_stock_and_final_sale(shop: Shop) -> None:
    white = await shop.call("get_product_info", {"product": "KET-201"})
    assert (white.in_stock, white.total_stock) == (False, 0)
    gift = await shop.call("get_product_info", {"product": "GFT-050"})
    assert gift.returnable is False


async def test_product_errors(shop: Shop) -> None:
    with pytest.raises(NotFoundError, match="PRD-9999"):
        await shop.call("get_product_info", {"product": "PRD-9999"})
    for bad in ({"product": "the blue kettle"}, {}, {"product": "KET-200", "colour": "blue"}):
        with pytest.raises(InvalidInputError):
            await shop.call("get_product_info", bad)


# ── check_order_status ──────────────────────────────────────────────────────


async def test_delivered_order_has_lines_totals_and_return_window(shop: Shop) -> None:
    order = await shop.call("check_order_status", {"order_id": "ord-1002"})
    assert isinstance(order, OrderStatus)
    assert order.status == "delivered"
    assert [(x.sku, x.quantity, x.line_total) for x in order.lines] == [
        ("MUG-330", 2, Decimal("48.00")),
        ("FRP-350", 1, Decimal("27.50")),
    ]
    assert (order.subtotal, order.shipping, order.total) == (
        Decimal("75.50"),
        Decimal("4.90"),
        Decimal("80.40"),
    )
    assert order.delivered_on == shop.day - timedelta(days=12)
    assert order.returnable and order.return_until == shop.day + timedelta(days=18)
    assert order.return_until is not None and order.return_until.isoformat() in order.return_note


@pytest.mark.parametrize(
    ("order_id", "status", "note"),
    [
        ("ORD-1005", "placed", "has not shipped yet"),
        ("ORD-1004", "shipped", "is on its way"),
        ("ORD-1006", "returned", "already returned"),
        ("ORD-1003", "delivered", "return window of ORD-1003 ended"),
    ],
)
async def test_orders_that_cannot_be_returned_say_why(
    shop: Shop, order_id: str, status: str, note: str
) -> None:
    order = await shop.call("check_order_status", {"order_id": order_id})
    assert (order.status, order.returnable, order.return_until) == (status, False, None)
    assert note in order.return_note
    assert all(line.returnable_quantity == 0 for line in order.lines)


async def test_partial_return_and_final_sale_lines(shop: Shop) -> None:
    towels = await shop.call("check_order_status", {"order_id": "ORD-1008"})
    assert (towels.lines[0].returned_quantity, towels.lines[0].returnable_quantity) == (2, 2)
    assert towels.returnable
    gift = await shop.call("check_order_status", {"order_id": "ORD-1007"})
    assert {x.sku: x.returnable_quantity for x in gift.lines} == {"GFT-050": 0, "BTL-750": 1}


async def test_order_errors(shop: Shop) -> None:
    with pytest.raises(NotFoundError, match="ORD-9999"):
        await shop.call("check_order_status", {"order_id": "ORD-9999"})
    for bad in ("1001", "ORD-1", "ORD-1001; DROP TABLE orders"):
        with pytest.raises(InvalidInputError):
            await shop.call("check_order_status", {"order_id": bad})


# ── get_shipping_info ───────────────────────────────────────────────────────


async def test_parcel_in_transit_and_delivered(shop: Shop) -> None:
    moving = await shop.call("get_shipping_info", {"order_id": "ORD-1004"})
    assert isinstance(moving, ShippingInfo) and moving.shipment is not None
    assert (moving.shipment.status, moving.shipment.carrier, moving.shipment.ships_from) == (
        "in_transit",
        "DHL",
        "Rotterdam",
    )
    assert moving.shipment.eta > shop.day and moving.shipment.tracking_number in moving.message
    done = await shop.call("get_shipping_info", {"order_id": "ORD-1001"})
    assert done.shipment is not None and done.shipment.delivered_on == shop.day - timedelta(days=5)
    waiting = await shop.call("get_shipping_info", {"order_id": "ORD-1005"})
    assert waiting.shipment is None and "has not shipped yet" in waiting.message


async def test_delivery_options_from_stocked_warehouses_on_business_days(shop: Shop) -> None:
    info = await shop.call("get_shipping_info", {"product": "KET-200", "postcode": "10115", "country": "de"})
    # Berlin has none in stock: the kettle comes from Rotterdam (fastest) or Warsaw.
    assert [(o.ships_from, o.carrier, o.price) for o in info.options] == [
        ("Rotterdam", "DHL", Decimal("5.90")),
        ("Warsaw", "DPD", Decimal("6.90")),
    ]
    for option in info.options:
        assert shop.day < option.earliest <= option.latest
        assert option.earliest.weekday() < 5 and option.latest.weekday() < 5
    assert info.destination == "DE 10115" and "Rotterdam" in info.message


async def test_no_options_when_out_of_stock_or_no_route(shop: Shop) -> None:
    gone = await shop.call("get_shipping_info", {"product": "KET-201", "postcode": "10115"})
    assert gone.options == [] and "out of stock" in gone.message
    # The French press is stocked in Berlin and Warsaw, and only Rotterdam ships to France.
    far = await shop.call("get_shipping_info", {"product": "FRP-350", "postcode": "75001", "country": "FR"})
    assert far.options == [] and "cannot be delivered to FR 75001" in far.message


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"order_id": "ORD-1001", "product": "KET-200"},
        {"product": "KET-200"},
        {"product": "KET-200", "postcode": "10115", "country": "NL"},
        {"product": "KET-200", "postcode": "10115", "country": "US"},
        {"product": "KET-200", "postcode": "<script>"},
    ],
)
async def test_shipping_invalid_input(shop: Shop, args: dict[str, str]) -> None:
    with pytest.raises(InvalidInputError):
        await shop.call("get_shipping_info", args)


async def test_order_and_product_together_get_both_answers(shop: Shop) -> None:
    args = {"order_id": "ORD-1004", "product": "KET-200", "postcode": "10115", "country": "DE"}
    info = await shop.call("get_shipping_info", args)
    assert info.shipment is not None and info.shipment.status == "in_transit" and info.options
    assert info.message.startswith("ORD-1004 left Rotterdam") and "Fastest to DE 10115" in info.message


async def test_shipping_not_found(shop: Shop) -> None:
    with pytest.raises(NotFoundError):
        await shop.call("get_shipping_info", {"order_id": "ORD-9999"})
    with pytest.raises(NotFoundError):
        await shop.call("get_shipping_info", {"product": "PRD-9999", "postcode": "10115"})


# ── escalate_to_human ───────────────────────────────────────────────────────


async def test_escalation_opens_one_ticket_per_key(shop: Shop) -> None:
    # Exactly the engine's call: only reason and summary.
    args = {"reason": "customer_request", "summary": "The shopper wants a person about ORD-1001."}
    first = await shop.call("escalate_to_human", args, key="wf-9:esc-1")
    again = await shop.call("escalate_to_human", args, key="wf-9:esc-1")
    assert isinstance(first, TicketResult) and first == again
    assert first.ticket_id.startswith("TCK-") and first.ticket_id in first.message
    assert await shop.store.count("tickets") == 1
    other = await shop.call("escalate_to_human", args, key="wf-9:esc-2")
    assert other.ticket_id != first.ticket_id and await shop.store.count("tickets") == 2


async def test_escalation_with_unknown_order_still_opens_a_ticket(shop: Shop) -> None:
    args = {"reason": "angry", "summary": "Parcel lost", "order_id": "ORD-9999"}
    ticket = await shop.call("escalate_to_human", args)
    assert ticket.note is not None and "ORD-9999" in ticket.note
    with pytest.raises(InvalidInputError):
        await shop.call("escalate_to_human", {"reason": "", "summary": "x"}, key="wf-1:c2")
