"""Handlers of the merchant-payment-support tools: `async (ToolContext[Store], Args) -> Result`."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from agents.merchant_support import knowledge
from agents.merchant_support import queries as q
from agents.merchant_support.models import (
    CreateSupportTicketArgs,
    DuplicateRef,
    EscalateToHumanArgs,
    GetMerchantAccountArgs,
    GetTransactionArgs,
    InitiateRefundArgs,
    KbHit,
    MerchantResult,
    RefundCheckResult,
    RefundResult,
    SearchKnowledgeBaseArgs,
    SearchResult,
    TicketResult,
    TransactionResult,
    TransactionSummary,
)

# The money helpers live in money.py; they stay importable from here.
from agents.merchant_support.money import derived_id as derived_id
from agents.merchant_support.money import format_minor as format_minor
from agents.merchant_support.money import minor_exponent as minor_exponent
from agents.merchant_support.money import to_minor as to_minor
from agents.merchant_support.seed import KB_DOCS
from agents.merchant_support.store import Store
from core.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from core.toolspec import ToolContext

RECENT_TRANSACTIONS = 5


Ctx = ToolContext[Store]  # what every handler of this agent gets: its own store, typed


def _store(ctx: Ctx) -> Store:
    return ctx.deps


# A run acting for a merchant (its user id is a merchant id) sees that merchant's records only.
_MERCHANT_USER = re.compile(r"^MID\d+$")


def _check_owner(ctx: Ctx, merchant_id: str, what: str) -> None:
    """PermissionDeniedError when the run acts for another merchant than the record's."""
    acting = ctx.user_id
    if _MERCHANT_USER.match(acting) and acting != merchant_id:
        raise PermissionDeniedError(
            f"{what} belongs to another merchant: this conversation acts for {acting} only",
            details={"acting_for": acting},
        )


def _missing_transaction(transaction_id: str) -> NotFoundError:
    return NotFoundError(
        f"no transaction {transaction_id!r}; check the id (ids look like pay_ABC123)",
        details={"transaction_id": transaction_id},
    )


def _missing_merchant(merchant_id: str) -> NotFoundError:
    return NotFoundError(
        f"no merchant {merchant_id!r}; check the id (ids look like MID001)",
        details={"merchant_id": merchant_id},
    )


# ── read-only tools ─────────────────────────────────────────────────────────


async def get_transaction(ctx: Ctx, args: GetTransactionArgs) -> TransactionResult:
    def load(conn: sqlite3.Connection) -> tuple[dict[str, Any], int, list[dict[str, Any]]]:
        txn = q.fetch_transaction(conn, args.transaction_id)
        if txn is None:
            raise _missing_transaction(args.transaction_id)
        duplicates = q.possible_duplicates(conn, txn)
        for dup in duplicates:
            # Whether a duplicate is still refundable saves the model a doomed refund request.
            left = 0 if dup["status"] == "failed" else txn["amount_cents"] - q.refunded_cents(conn, dup["id"])
            dup["refundable_cents"] = left
        return txn, q.refunded_cents(conn, txn["id"]), duplicates

    txn, refunded, duplicates = await _store(ctx).read(load)
    _check_owner(ctx, txn["merchant_id"], f"payment {txn['id']}")
    currency = txn["currency"]
    refundable = 0 if txn["status"] == "failed" else txn["amount_cents"] - refunded
    return TransactionResult(
        transaction_id=txn["id"],
        merchant_id=txn["merchant_id"],
        amount=format_minor(txn["amount_cents"], currency),
        currency=currency,
        status=txn["status"],
        card_fingerprint=txn["card_fingerprint"],
        created_at=txn["created_at"],
        description=txn["description"],
        refunded_total=format_minor(refunded, currency),
        refundable_amount=format_minor(refundable, currency),
        possible_duplicates=[
            DuplicateRef(
                transaction_id=d["id"],
                created_at=d["created_at"],
                status=d["status"],
                refundable_amount=format_minor(d["refundable_cents"], currency),
            )
            for d in duplicates
        ],
    )


async def get_merchant_account(ctx: Ctx, args: GetMerchantAccountArgs) -> MerchantResult:
    def load(conn: sqlite3.Connection) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        merchant = q.fetch_merchant(conn, args.merchant_id)
        if merchant is None:
            raise _missing_merchant(args.merchant_id)
        return merchant, q.recent_transactions(conn, args.merchant_id, RECENT_TRANSACTIONS)

    merchant, recent = await _store(ctx).read(load)
    _check_owner(ctx, merchant["id"], f"merchant account {merchant['id']}")
    return MerchantResult(
        merchant_id=merchant["id"],
        name=merchant["name"],
        status=merchant["status"],
        country=merchant["country"],
        currency=merchant["currency"],
        email=merchant["email"],
        plan=merchant["plan"],
        recent_transactions=[
            TransactionSummary(
                transaction_id=t["id"],
                amount=format_minor(t["amount_cents"], t["currency"]),
                currency=t["currency"],
                status=t["status"],
                created_at=t["created_at"],
                description=t["description"],
            )
            for t in recent
        ],
    )


async def search_knowledge_base(ctx: Ctx, args: SearchKnowledgeBaseArgs) -> SearchResult:
    hits = await knowledge.search(_store(ctx), args.query, args.limit)
    return SearchResult(results=[KbHit.model_validate(hit) for hit in hits])


# The fallback's cache: each policy's first sentence, in memory, so it answers while the store is down.
WORD = re.compile(r"[a-z0-9]{4,}")
KB_CACHE = tuple((i, t, b.split(". ")[0] + ".", set(WORD.findall(f"{t} {b}".lower()))) for i, t, b in KB_DOCS)


async def cached_kb_search(ctx: Ctx, args: SearchKnowledgeBaseArgs) -> SearchResult:
    """Fallback of search_knowledge_base: cached summaries ranked by keyword overlap, no store access."""
    words = set(WORD.findall(args.query.lower()))
    scored = [(len(words & doc_words), i, t, s) for i, t, s, doc_words in KB_CACHE]
    ranked = sorted((row for row in scored if row[0] > 0), key=lambda row: -row[0])[: min(args.limit, 3)]
    return SearchResult(results=[KbHit(doc_id=i, title=t, snippet=s, score=n) for n, i, t, s in ranked])


# ── side-effecting tools: each write runs inside Store.run_once under the call's key ──


async def create_support_ticket(ctx: Ctx, args: CreateSupportTicketArgs) -> TicketResult:
    key = ctx.idempotency_key

    def write(conn: sqlite3.Connection) -> dict[str, Any]:
        if q.fetch_merchant(conn, args.merchant_id) is None:
            raise _missing_merchant(args.merchant_id)
        ticket_id = derived_id("tkt_", key)
        q.insert_ticket(
            conn,
            ticket_id=ticket_id,
            merchant_id=args.merchant_id,
            subject=args.subject,
            body=args.body,
            priority=args.priority,
            kind="support",
            key=key,
        )
        return {"ticket_id": ticket_id, "status": "open"}

    result, _ = await _store(ctx).run_once(key, "create_support_ticket", write)
    return TicketResult.model_validate(result)


async def escalate_to_human(ctx: Ctx, args: EscalateToHumanArgs) -> TicketResult:
    key = ctx.idempotency_key

    def write(conn: sqlite3.Connection) -> dict[str, Any]:
        # Escalation is the last resort, so a wrong merchant id must not block it: keep it in the body.
        merchant_id = args.merchant_id
        note = None
        if merchant_id is not None and q.fetch_merchant(conn, merchant_id) is None:
            note = f"merchant {merchant_id!r} not found; escalated without a merchant"
            merchant_id = None
        ticket_id = derived_id("esc_", key)
        body = f"{args.summary}\n\nReason: {args.reason}"
        if note is not None:
            body += f"\nMerchant id given (unknown): {args.merchant_id}"
        q.insert_ticket(
            conn,
            ticket_id=ticket_id,
            merchant_id=merchant_id,
            subject=args.reason[:200],
            body=body,
            priority="high",
            kind="escalation",
            key=key,
        )
        return {"ticket_id": ticket_id, "status": "escalated", "note": note}

    result, _ = await _store(ctx).run_once(key, "escalate_to_human", write)
    return TicketResult.model_validate(result)


def _check_refund(conn: sqlite3.Connection, txn: dict[str, Any], args: InitiateRefundArgs) -> int:
    """Apply the refund rules inside the write transaction; returns the amount in minor units."""
    merchant = q.fetch_merchant(conn, txn["merchant_id"])
    if merchant is None or merchant["status"] != "active":
        raise PermissionDeniedError(
            f"merchant {txn['merchant_id']} is {merchant['status'] if merchant else 'missing'}: "
            "refunds cannot be initiated; escalate to a human",
            details={"merchant_id": txn["merchant_id"]},
        )
    if txn["status"] == "failed":
        raise InvalidInputError(f"{txn['id']} failed, no money was captured, so it cannot be refunded")
    currency = txn["currency"]
    if args.currency != currency:
        raise InvalidInputError(
            f"currency {args.currency} does not match {txn['id']}, which was charged in {currency}"
        )
    amount = to_minor(args.amount, currency)
    refunded = q.refunded_cents(conn, txn["id"])
    remaining = txn["amount_cents"] - refunded
    if amount > remaining:
        raise InvalidInputError(
            f"refund of {format_minor(amount, currency)} {currency} exceeds the refundable "
            f"{format_minor(remaining, currency)} {currency} of {txn['id']} (charged "
            f"{format_minor(txn['amount_cents'], currency)}, "
            f"already refunded {format_minor(refunded, currency)})",
            details={"refundable": format_minor(remaining, currency), "currency": currency},
        )
    return amount


async def check_refund(ctx: Ctx, args: InitiateRefundArgs) -> RefundCheckResult:
    """The refund rules without the write: raises exactly what initiate_refund would."""

    def check(conn: sqlite3.Connection) -> tuple[dict[str, Any], int]:
        txn = q.fetch_transaction(conn, args.transaction_id)
        if txn is None:
            raise _missing_transaction(args.transaction_id)
        return txn, _check_refund(conn, txn, args)

    txn, amount = await _store(ctx).read(check)
    _check_owner(ctx, txn["merchant_id"], f"payment {txn['id']}")
    return RefundCheckResult(
        transaction_id=txn["id"], amount=format_minor(amount, txn["currency"]), currency=txn["currency"]
    )


async def initiate_refund(ctx: Ctx, args: InitiateRefundArgs) -> RefundResult:
    key = ctx.idempotency_key

    def write(conn: sqlite3.Connection) -> dict[str, Any]:
        txn = q.fetch_transaction(conn, args.transaction_id)
        if txn is None:
            raise _missing_transaction(args.transaction_id)
        _check_owner(ctx, txn["merchant_id"], f"payment {txn['id']}")
        amount = _check_refund(conn, txn, args)
        refund_id = derived_id("re_", key)
        q.insert_refund(conn, refund_id=refund_id, txn=txn, amount_cents=amount, reason=args.reason, key=key)
        return {
            "refund_id": refund_id,
            "transaction_id": txn["id"],
            "amount": format_minor(amount, txn["currency"]),
            "currency": txn["currency"],
            "status": "succeeded",
            # A plain sentence small models can repeat to the merchant without inventing details.
            "message": f"Refund {refund_id} of {format_minor(amount, txn['currency'])} {txn['currency']} "
            f"to the card of {txn['id']} succeeded; cards are credited within 5-10 business days.",
        }

    result, _ = await _store(ctx).run_once(key, "initiate_refund", write)
    return RefundResult.model_validate(result)
