"""Arguments and results of the demo tools; tight validation because a small model fills them in."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _upper(value: Any) -> Any:
    # Models often write "usd"; normalising is safe, anything else still fails the pattern.
    return value.upper() if isinstance(value, str) else value


TransactionId = Annotated[
    str,
    Field(pattern=r"^pay_[A-Za-z0-9]{3,32}$", description="Payment id, e.g. pay_ABC123"),
]
MerchantId = Annotated[str, Field(pattern=r"^MID[0-9]{3,6}$", description="Merchant id, e.g. MID001")]
# Field before the validator: the other order drops the pattern from the JSON schema.
Currency = Annotated[
    str,
    Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code of the payment, e.g. USD"),
    BeforeValidator(_upper),
]
Amount = Annotated[
    Decimal,
    Field(
        gt=0,
        le=1_000_000,
        decimal_places=2,
        description='Amount in major units, e.g. "49.99" for $49.99 (not cents)',
    ),
]
Priority = Literal["low", "normal", "high", "urgent"]


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)


# ── arguments ───────────────────────────────────────────────────────────────


class GetTransactionArgs(Args):
    transaction_id: TransactionId


class GetMerchantAccountArgs(Args):
    merchant_id: MerchantId


class SearchKnowledgeBaseArgs(Args):
    query: str = Field(min_length=1, max_length=500, description="Plain words, e.g. duplicate charge refund")
    limit: int = Field(3, ge=1, le=10, description="How many documents to return (1-10)")


class CreateSupportTicketArgs(Args):
    merchant_id: MerchantId
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=5000)
    priority: Priority = "normal"


class InitiateRefundArgs(Args):
    transaction_id: TransactionId
    amount: Amount
    currency: Currency
    reason: str = Field(min_length=1, max_length=1000, description="Why the refund is made")


class EscalateToHumanArgs(Args):
    reason: str = Field(min_length=1, max_length=1000, description="Why a human is needed")
    summary: str = Field(min_length=1, max_length=5000, description="What was asked and already checked")
    merchant_id: MerchantId | None = None


# ── results ─────────────────────────────────────────────────────────────────


class DuplicateRef(Result):
    transaction_id: str
    created_at: str
    status: str
    refundable_amount: str


class TransactionResult(Result):
    transaction_id: str
    merchant_id: str
    amount: str
    currency: str
    status: str
    card_fingerprint: str
    created_at: str
    description: str
    refunded_total: str
    refundable_amount: str
    possible_duplicates: list[DuplicateRef]


class TransactionSummary(Result):
    transaction_id: str
    amount: str
    currency: str
    status: str
    created_at: str
    description: str


class MerchantResult(Result):
    merchant_id: str
    name: str
    status: str
    country: str
    currency: str
    email: str
    plan: str
    recent_transactions: list[TransactionSummary]


class KbHit(Result):
    doc_id: str
    title: str
    snippet: str
    score: float


class SearchResult(Result):
    results: list[KbHit]


class TicketResult(Result):
    ticket_id: str
    status: Literal["open", "escalated"]
    note: str | None = None


class RefundCheckResult(Result):
    transaction_id: str
    amount: str
    currency: str
    would_succeed: bool = True


class RefundResult(Result):
    refund_id: str
    transaction_id: str
    amount: str
    currency: str
    status: Literal["succeeded"]
    message: str = ""  # default: results stored by older versions replay without it
