"""The shop's tools, each declared once: typed functions with @tool, and one explicit ToolSpec.

`process_return` is a ToolSpec because its precheck must read the very arguments model its handler
gets; the others are plain typed functions. Importing this module opens nothing: handlers reach the
store through `ctx.deps` at run time.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from agents.shop import domain
from agents.shop import queries as q
from agents.shop.deps import ShopDeps
from agents.shop.models import (
    Country,
    OrderId,
    OrderStatus,
    Postcode,
    ProcessReturnArgs,
    ProductInfo,
    ProductRef,
    Reason,
    ReturnCheck,
    ReturnLine,
    ReturnResult,
    ShippingInfo,
    Summary,
    TicketResult,
)
from core.errors import InvalidInputError
from core.function_tools import tool
from core.toolspec import ToolContext, ToolSpec

ESCALATE_TOOL = "escalate_to_human"


@tool(max_attempts=5)
async def get_product_info(ctx: ToolContext[ShopDeps], product: ProductRef) -> ProductInfo:
    """Look up a product: name, price, description, whether it can be returned, and stock per warehouse.

    Args:
        product: Product id or SKU, e.g. PRD-1001 or KET-200.
    """

    def load(conn: sqlite3.Connection) -> ProductInfo:
        found = q.fetch_product(conn, product)
        if found is None:
            raise domain.missing_product(product)
        return domain.product_info(found, q.stock_levels(conn, found["id"]))

    return await ctx.deps.store.read(load)


@tool(max_attempts=5)
async def check_order_status(ctx: ToolContext[ShopDeps], order_id: OrderId) -> OrderStatus:
    """Look up an order: status (placed, shipped, delivered, returned), items, totals, dates,
    and whether it can be returned and until when.

    Args:
        order_id: The order id, e.g. ORD-1001.
    """
    today = ctx.deps.today()

    def load(conn: sqlite3.Connection) -> OrderStatus:
        order = q.fetch_order(conn, order_id)
        if order is None:
            raise domain.missing_order(order_id)
        return domain.order_status(order, q.order_lines(conn, order_id), today)

    return await ctx.deps.store.read(load)


@tool(max_attempts=5)
async def get_shipping_info(
    ctx: ToolContext[ShopDeps],
    order_id: OrderId | None = None,
    product: ProductRef | None = None,
    postcode: Postcode | None = None,
    country: Country = "DE",
) -> ShippingInfo:
    """Shipping: give order_id to track an order's parcel (carrier, tracking number, ETA); give product
    and postcode for delivery options and dates to that address.

    Args:
        order_id: An order id, e.g. ORD-1001, to track its parcel.
        product: A product id or SKU, e.g. KET-200, for delivery options to an address.
        postcode: The delivery postcode, e.g. 10115; needed with product.
        country: Country code of the address: DE (default), AT, NL, BE, FR or PL.
    """
    if product is None:
        if order_id is None:
            raise InvalidInputError("give order_id (to track an order) or product and postcode (for options)")
        return await _track(ctx.deps, order_id)
    if postcode is None:
        raise InvalidInputError("delivery options for a product need the postcode of the address")
    quoted = await _options(ctx.deps, product, domain.check_postcode(country, postcode), country)
    if order_id is None:
        return quoted
    # A small model fills in every field it sees: both parts asked for are answered, not refused.
    tracked = await _track(ctx.deps, order_id)
    both = f"{tracked.message} {quoted.message}"
    return quoted.model_copy(update={"order_id": order_id, "shipment": tracked.shipment, "message": both})


async def _track(deps: ShopDeps, order_id: str) -> ShippingInfo:
    def load(conn: sqlite3.Connection) -> ShippingInfo:
        order = q.fetch_order(conn, order_id)
        if order is None:
            raise domain.missing_order(order_id)
        row = q.fetch_shipment(conn, order_id)
        sent = domain.shipment(row) if row is not None else None
        return ShippingInfo(
            order_id=order_id,
            destination=f"{order['ship_country']} {order['ship_postcode']}",
            shipment=sent,
            message=domain.order_shipping_message(order, sent),
        )

    return await deps.store.read(load)


async def _options(deps: ShopDeps, product: str, postcode: str, country: str) -> ShippingInfo:
    today, destination = deps.today(), f"{country} {postcode}"

    def load(conn: sqlite3.Connection) -> ShippingInfo:
        found = q.fetch_product(conn, product)
        if found is None:
            raise domain.missing_product(product)
        levels = q.stock_levels(conn, found["id"])
        options = domain.shipping_options(q.rates_to(conn, country), levels, today, found["currency"])
        in_stock = any(level["quantity"] > 0 for level in levels)
        return ShippingInfo(
            sku=found["sku"],
            destination=destination,
            options=options,
            message=domain.options_message(found["sku"], destination, options, in_stock),
        )

    return await deps.store.read(load)


@tool(side_effect=True, max_attempts=5)
async def escalate_to_human(
    ctx: ToolContext[ShopDeps], reason: Reason, summary: Summary, order_id: OrderId | None = None
) -> TicketResult:
    """Hand the case to a human colleague: when the shopper asks for a person, is upset,
    or you cannot help.

    Args:
        reason: Why a human is needed, in one sentence.
        summary: What the shopper asked and what you already checked.
        order_id: The order id, e.g. ORD-1001, if there is one.
    """
    key = ctx.idempotency_key

    def write(conn: sqlite3.Connection) -> dict[str, Any]:
        # The last resort must not fail on a wrong order id: the ticket keeps it in the summary instead.
        known = order_id if order_id is not None and q.fetch_order(conn, order_id) is not None else None
        note = f"order {order_id!r} not found; escalated without an order" if order_id and not known else None
        ticket_id = domain.derived_id("TCK-", key)
        body = summary if note is None else f"{summary}\n\nOrder id given (unknown): {order_id}"
        q.insert_ticket(conn, ticket_id=ticket_id, order_id=known, reason=reason, summary=body, key=key)
        message = f"Ticket {ticket_id} is open; a colleague from customer service replies within one day."
        return TicketResult(ticket_id=ticket_id, status="escalated", message=message, note=note).model_dump(
            mode="json"
        )

    result, _ = await ctx.deps.store.run_once(key, ESCALATE_TOOL, write)
    return TicketResult.model_validate(result)


# ── the one irreversible tool: a human approves every return ────────────────


def _load_for_return(conn: sqlite3.Connection, args: ProcessReturnArgs) -> tuple[Any, list[dict[str, Any]]]:
    return q.fetch_order(conn, args.order_id), q.order_lines(conn, args.order_id)


def _lines(plan: domain.ReturnPlan) -> list[ReturnLine]:
    return [
        ReturnLine(sku=sku, name=name, quantity=quantity, refund=domain.money(refund))
        for _, quantity, refund, sku, name in plan
    ]


async def check_return(ctx: ToolContext[ShopDeps], args: ProcessReturnArgs) -> ReturnCheck:
    """The return rules without the write, before anyone is asked to approve: raises what the write would."""
    today = ctx.deps.today()

    def check(conn: sqlite3.Connection) -> tuple[str, domain.ReturnPlan]:
        order, lines = _load_for_return(conn, args)
        return order["currency"] if order else "", domain.plan_return(order, lines, args, today)

    currency, plan = await ctx.deps.store.read(check)
    refund = domain.money(sum(cents for _, _, cents, _, _ in plan))
    return ReturnCheck(order_id=args.order_id, lines=_lines(plan), refund_total=refund, currency=currency)


async def process_return(ctx: ToolContext[ShopDeps], args: ProcessReturnArgs) -> ReturnResult:
    key, today = ctx.idempotency_key, ctx.deps.today()

    def write(conn: sqlite3.Connection) -> dict[str, Any]:
        # The rules run again inside the write lock: a concurrent return of the same items, approved
        # in the meantime, is refused here rather than refunded twice.
        order, lines = _load_for_return(conn, args)
        plan = domain.plan_return(order, lines, args, today)
        return_id, currency = domain.derived_id("RET-", key), order["currency"]
        rows = [(line_no, quantity, refund) for line_no, quantity, refund, _, _ in plan]
        q.insert_return(
            conn,
            return_id=return_id,
            order_id=args.order_id,
            reason=args.reason,
            lines=rows,
            currency=currency,
            key=key,
        )
        if domain.nothing_left(q.order_lines(conn, args.order_id)):
            q.set_order_status(conn, args.order_id, "returned")
        return ReturnResult(
            return_id=return_id,
            order_id=args.order_id,
            lines=_lines(plan),
            refund_total=domain.money(sum(refund for _, _, refund in rows)),
            currency=currency,
            status="authorised",
            message=domain.return_message(return_id, args.order_id, plan, currency),
        ).model_dump(mode="json")

    result, _ = await ctx.deps.store.run_once(key, PROCESS_RETURN, write)
    return ReturnResult.model_validate(result)


PROCESS_RETURN = "process_return"
PROCESS_RETURN_SPEC = ToolSpec(
    name=PROCESS_RETURN,
    description=(
        "Start a return of a delivered order within its return window (see check_order_status). "
        "Give order_id and the reason; for one item also its sku and quantity, otherwise the whole order "
        "is returned. Irreversible: a human approves every return first."
    ),
    args_model=ProcessReturnArgs,
    handler=process_return,
    precheck=check_return,
    irreversible=True,
    side_effect=True,
    max_attempts=5,
)

TOOLS: tuple[ToolSpec, ...] = (
    get_product_info,
    check_order_status,
    get_shipping_info,
    PROCESS_RETURN_SPEC,
    escalate_to_human,
)
