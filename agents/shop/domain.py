"""The shop's rules, apart from SQL and from the tool declarations: money, dates, returns, shipping.

Every rule raises one class of the taxonomy: an unknown order or product is `NotFoundError`, a request
the rules refuse is `PermissionDeniedError`, arguments that cannot be right are `InvalidInputError`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from agents.shop.models import (
    OrderLine,
    OrderStatus,
    ProcessReturnArgs,
    ProductInfo,
    Shipment,
    ShippingOption,
    StockLevel,
)
from core.errors import InvalidInputError, NotFoundError, PermissionDeniedError

RETURN_DAYS = 30
# What a postcode looks like in each country the shop delivers to.
POSTCODES = {
    "DE": re.compile(r"^[0-9]{5}$"),
    "FR": re.compile(r"^[0-9]{5}$"),
    "AT": re.compile(r"^[0-9]{4}$"),
    "BE": re.compile(r"^[0-9]{4}$"),
    "NL": re.compile(r"^[0-9]{4} ?[A-Z]{2}$"),
    "PL": re.compile(r"^[0-9]{2}-[0-9]{3}$"),
}
# (line_no, quantity, refund in cents, sku, name) of one line a return takes.
ReturnPlan = list[tuple[int, int, int, str, str]]


def money(cents: int) -> Decimal:
    """Integer cents to a Decimal of major units with two places: 4990 → Decimal("49.90")."""
    return Decimal(cents).scaleb(-2)


def add_business_days(start: date, days: int) -> date:
    """`days` working days (Monday to Friday) after `start`: carriers do not deliver at weekends."""
    day = start
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def derived_id(prefix: str, idempotency_key: str) -> str:
    # Derived from the key, so a retry that somehow bypassed run_once collides on the primary key.
    return prefix + hashlib.sha256(idempotency_key.encode()).hexdigest()[:10].upper()


def missing_order(order_id: str) -> NotFoundError:
    return NotFoundError(
        f"no order {order_id!r}; check the id (ids look like ORD-1001)", details={"order_id": order_id}
    )


def missing_product(ref: str) -> NotFoundError:
    return NotFoundError(
        f"no product {ref!r}; check the id or SKU (they look like PRD-1001 or KET-200)",
        details={"product": ref},
    )


def check_postcode(country: str, postcode: str) -> str:
    """The postcode if it has the shape of one in `country`, else InvalidInputError."""
    if not POSTCODES[country].match(postcode):
        raise InvalidInputError(
            f"{postcode!r} is not a postcode in {country}", details={"country": country, "postcode": postcode}
        )
    return postcode


# ── products and orders ─────────────────────────────────────────────────────


def product_info(product: dict[str, Any], levels: list[dict[str, Any]]) -> ProductInfo:
    total = sum(level["quantity"] for level in levels)
    return ProductInfo(
        product_id=product["id"],
        sku=product["sku"],
        name=product["name"],
        description=product["description"],
        price=money(product["price_cents"]),
        currency=product["currency"],
        in_stock=total > 0,
        total_stock=total,
        stock=[StockLevel(warehouse=x["warehouse"], city=x["city"], quantity=x["quantity"]) for x in levels],
        returnable=bool(product["returnable"]),
    )


def returnable_quantity(line: dict[str, Any]) -> int:
    return int(line["quantity"] - line["returned"]) if line["returnable"] else 0


def return_window(order: dict[str, Any], lines: list[dict[str, Any]], today: date) -> tuple[date | None, str]:
    """(last day a return is accepted, or None when none is possible now; a sentence saying why)."""
    order_id, status = order["id"], order["status"]
    if status == "placed":
        return (
            None,
            f"{order_id} has not shipped yet; it can be returned within {RETURN_DAYS} days of delivery.",
        )
    if status == "shipped":
        return None, f"{order_id} is on its way; it can be returned within {RETURN_DAYS} days of delivery."
    if status == "returned":
        return None, f"{order_id} was already returned."
    until = date.fromisoformat(order["delivered_on"]) + timedelta(days=RETURN_DAYS)
    if today > until:
        return None, f"The {RETURN_DAYS}-day return window of {order_id} ended on {until.isoformat()}."
    if not any(returnable_quantity(line) for line in lines):
        return None, f"Nothing left on {order_id} can be returned (already returned or final sale)."
    return until, f"{order_id} can be returned until {until.isoformat()}."


def order_status(order: dict[str, Any], lines: list[dict[str, Any]], today: date) -> OrderStatus:
    subtotal = sum(line["quantity"] * line["unit_price_cents"] for line in lines)
    until, note = return_window(order, lines, today)
    return OrderStatus(
        order_id=order["id"],
        status=order["status"],
        placed_on=order["placed_on"],
        shipped_on=order["shipped_on"],
        delivered_on=order["delivered_on"],
        lines=[
            OrderLine(
                sku=line["sku"],
                name=line["name"],
                quantity=line["quantity"],
                unit_price=money(line["unit_price_cents"]),
                line_total=money(line["quantity"] * line["unit_price_cents"]),
                returned_quantity=line["returned"],
                returnable_quantity=returnable_quantity(line) if until else 0,
            )
            for line in lines
        ],
        subtotal=money(subtotal),
        shipping=money(order["shipping_cents"]),
        total=money(subtotal + order["shipping_cents"]),
        currency=order["currency"],
        returnable=until is not None,
        return_until=until,
        return_note=note,
    )


# ── returns ─────────────────────────────────────────────────────────────────


def plan_return(
    order: dict[str, Any] | None, lines: list[dict[str, Any]], args: ProcessReturnArgs, today: date
) -> ReturnPlan:
    """What a return would take, or the taxonomy error that refuses it; run by precheck and write alike."""
    if order is None:
        raise missing_order(args.order_id)
    until, note = return_window(order, lines, today)
    if until is None:
        raise PermissionDeniedError(
            f"cannot return {order['id']}: {note}", details={"status": order["status"]}
        )
    if args.sku is None:
        return [_take(line, returnable_quantity(line)) for line in lines if returnable_quantity(line)]
    line = next((line for line in lines if line["sku"] == args.sku), None)
    if line is None:
        raise InvalidInputError(
            f"{args.sku} is not on {order['id']}", details={"skus_on_order": [x["sku"] for x in lines]}
        )
    if not line["returnable"]:
        raise PermissionDeniedError(f"{args.sku} ({line['name']}) is final sale and cannot be returned")
    left = returnable_quantity(line)
    wanted = left if args.quantity is None else args.quantity
    if left == 0:
        raise PermissionDeniedError(f"every {args.sku} on {order['id']} was already returned")
    if wanted > left:
        raise InvalidInputError(
            f"cannot return {wanted} of {args.sku}: {order['id']} has {line['quantity']}, "
            f"{line['returned']} already returned, so at most {left}",
            details={"bought": line["quantity"], "returned": line["returned"], "returnable": left},
        )
    return [_take(line, wanted)]


def _take(line: dict[str, Any], quantity: int) -> tuple[int, int, int, str, str]:
    return line["line_no"], quantity, quantity * line["unit_price_cents"], line["sku"], line["name"]


def nothing_left(lines: list[dict[str, Any]]) -> bool:
    """Whether every line is returned as far as it can be: the order then counts as returned."""
    return not any(returnable_quantity(line) for line in lines)


def return_message(return_id: str, order_id: str, plan: ReturnPlan, currency: str) -> str:
    items = ", ".join(f"{quantity} x {name}" for _, quantity, _, _, name in plan)
    refund = money(sum(refund for _, _, refund, _, _ in plan))
    return (
        f"Return {return_id} for {order_id} ({items}) is authorised: a prepaid label goes to the shopper's "
        f"email, and {refund} {currency} is refunded within 5 days of the parcel's arrival."
    )


# ── shipping ────────────────────────────────────────────────────────────────


def shipment(row: dict[str, Any]) -> Shipment:
    return Shipment(
        carrier=row["carrier"],
        service=row["service"],
        tracking_number=row["tracking_number"],
        status=row["status"],
        ships_from=row["city"],
        shipped_on=row["shipped_on"],
        eta=row["eta"],
        delivered_on=row["delivered_on"],
    )


def order_shipping_message(order: dict[str, Any], sent: Shipment | None) -> str:
    if sent is None:
        return f"{order['id']} was placed on {order['placed_on']} and has not shipped yet; tracking follows."
    via = f"with {sent.carrier} (tracking {sent.tracking_number})"
    if sent.delivered_on is not None:
        return f"{order['id']} was delivered on {sent.delivered_on} {via}."
    return f"{order['id']} left {sent.ships_from} on {sent.shipped_on} {via} and is due by {sent.eta}."


def shipping_options(
    rates: list[dict[str, Any]], levels: list[dict[str, Any]], today: date, currency: str
) -> list[ShippingOption]:
    """Ways to the destination from every warehouse holding the item, fastest first, then cheapest."""
    stocked = {level["warehouse"] for level in levels if level["quantity"] > 0}
    options = [
        ShippingOption(
            ships_from=rate["city"],
            carrier=rate["carrier"],
            service=rate["service"],
            price=money(rate["price_cents"]),
            currency=currency,
            earliest=add_business_days(today, rate["min_days"]),
            latest=add_business_days(today, rate["max_days"]),
        )
        for rate in rates
        if rate["warehouse"] in stocked
    ]
    return sorted(options, key=lambda o: (o.latest, o.earliest, o.price))


def options_message(sku: str, destination: str, options: list[ShippingOption], in_stock: bool) -> str:
    if not in_stock:
        return f"{sku} is out of stock in every warehouse, so no delivery date can be given."
    if not options:
        return f"{sku} cannot be delivered to {destination} from the warehouses that have it."
    best = options[0]
    return (
        f"Fastest to {destination}: {best.carrier} {best.service} from {best.ships_from}, {best.price} "
        f"{best.currency}, arriving {best.earliest} to {best.latest}."
    )
