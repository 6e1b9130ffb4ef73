"""Arguments and results of the shop's tools: tight fields, because a 1.5B model fills them in.

Money is Decimal in major units end to end (the store keeps integer cents); JSON carries it as a
string such as "49.90", so no float ever touches an amount.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def _upper(value: Any) -> Any:
    # Models write "ord-1001" or " ket-200"; normalising is safe, anything else still fails the pattern.
    return value.strip().upper() if isinstance(value, str) else value


# Field before the validator: the other order drops the pattern from the JSON schema. Descriptions go
# on each use (a docstring's Args: line): one on the type too would be repeated inside every optional
# field's anyOf, and the model reads each schema on every turn.
OrderId = Annotated[str, Field(pattern=r"^ORD-[0-9]{4,6}$"), BeforeValidator(_upper)]
ProductRef = Annotated[str, Field(pattern=r"^(PRD-[0-9]{4}|[A-Z]{3}-[0-9]{3})$"), BeforeValidator(_upper)]
Sku = Annotated[str, Field(pattern=r"^[A-Z]{3}-[0-9]{3}$"), BeforeValidator(_upper)]
Country = Annotated[Literal["DE", "AT", "NL", "BE", "FR", "PL"], BeforeValidator(_upper)]
Postcode = Annotated[str, Field(pattern=r"^[0-9A-Z -]{4,8}$"), BeforeValidator(_upper)]
Quantity = Annotated[int, Field(ge=1, le=99)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]
Summary = Annotated[str, Field(min_length=1, max_length=5000)]
Money = Annotated[Decimal, Field(ge=0, decimal_places=2)]
OrderState = Literal["placed", "shipped", "delivered", "returned"]


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class ProcessReturnArgs(Args):
    order_id: OrderId = Field(description="The order id, e.g. ORD-1001")
    reason: str = Field(min_length=1, max_length=500, description="Why the shopper sends it back")
    sku: Sku | None = Field(None, description="The item's SKU, e.g. KET-200; leave out for the whole order")
    quantity: Quantity | None = Field(None, description="How many of that item; leave out for all of them")

    @model_validator(mode="after")
    def _quantity_needs_sku(self) -> Self:
        if self.quantity is not None and self.sku is None:
            raise ValueError("quantity needs the sku of the item it counts")
        return self


# ── results ─────────────────────────────────────────────────────────────────


class StockLevel(Result):
    warehouse: str
    city: str
    quantity: int


class ProductInfo(Result):
    product_id: str
    sku: str
    name: str
    description: str
    price: Money
    currency: str
    in_stock: bool
    total_stock: int
    stock: list[StockLevel]
    returnable: bool


class OrderLine(Result):
    sku: str
    name: str
    quantity: int
    unit_price: Money
    line_total: Money
    returned_quantity: int
    returnable_quantity: int  # what a return may still take: 0 when the item is final sale


class OrderStatus(Result):
    order_id: str
    status: OrderState
    placed_on: date
    shipped_on: date | None
    delivered_on: date | None
    lines: list[OrderLine]
    subtotal: Money
    shipping: Money
    total: Money
    currency: str
    returnable: bool
    return_until: date | None
    # One plain sentence a small model can repeat instead of working out the window itself.
    return_note: str


class Shipment(Result):
    carrier: str
    service: str
    tracking_number: str
    status: Literal["in_transit", "delivered"]
    ships_from: str
    shipped_on: date
    eta: date
    delivered_on: date | None


class ShippingOption(Result):
    ships_from: str
    carrier: str
    service: str
    price: Money
    currency: str
    earliest: date
    latest: date


class ShippingInfo(Result):
    order_id: str | None = None
    sku: str | None = None
    destination: str | None = None
    shipment: Shipment | None = None
    options: list[ShippingOption] = Field(default_factory=list)
    message: str


class ReturnLine(Result):
    sku: str
    name: str
    quantity: int
    refund: Money


class ReturnCheck(Result):
    order_id: str
    lines: list[ReturnLine]
    refund_total: Money
    currency: str
    would_succeed: bool = True


class ReturnResult(Result):
    return_id: str
    order_id: str
    lines: list[ReturnLine]
    refund_total: Money
    currency: str
    status: Literal["authorised"]
    message: str


class TicketResult(Result):
    ticket_id: str
    status: Literal["escalated"]
    message: str
    note: str | None = None
