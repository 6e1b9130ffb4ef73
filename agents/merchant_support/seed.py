"""Deterministic demo data: three merchants, a duplicate charge, and the policies that govern it."""

from __future__ import annotations

import sqlite3

# id, name, status, country, currency, email, plan
MERCHANTS: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("MID001", "Blue Bottle Crafts", "active", "US", "USD", "billing@bluebottlecrafts.example", "standard"),
    ("MID002", "Nordlicht Kaffee GmbH", "active", "DE", "EUR", "finance@nordlicht-kaffee.example", "growth"),
    ("MID003", "QuickFix Gadgets Ltd", "suspended", "GB", "GBP", "ops@quickfixgadgets.example", "standard"),
)

# One row per line reads as a table; the formatter would spread each over ten lines.
# fmt: off
# id, merchant_id, amount_cents, currency, card_fingerprint, status, created_at, description
TRANSACTIONS: tuple[tuple[str, str, int, str, str, str, str, str], ...] = (
    ("pay_ABC123", "MID001", 4999, "USD", "fp_9f2c", "succeeded", "2026-11-02T10:15:00Z",
     "Order #1042 - hand-thrown mug set"),
    # The duplicate: same merchant, card and amount 70 seconds later.
    ("pay_ABC124", "MID001", 4999, "USD", "fp_9f2c", "succeeded", "2026-11-02T10:16:10Z",
     "Order #1042 - hand-thrown mug set"),
    ("pay_ABC125", "MID001", 12000, "USD", "fp_41aa", "succeeded", "2026-11-01T16:40:00Z",
     "Order #1039 - pottery workshop ticket"),
    ("pay_ABC126", "MID001", 2500, "USD", "fp_77d0", "refunded", "2026-10-28T09:05:00Z",
     "Order #1031 - gift card"),
    ("pay_ABC127", "MID001", 8900, "USD", "fp_0b3e", "failed", "2026-10-30T13:22:00Z",
     "Order #1035 - card declined by issuer"),
    # Same amount and minutes later, but another card: not a duplicate.
    ("pay_ABC128", "MID001", 4999, "USD", "fp_c1d2", "succeeded", "2026-11-02T10:20:00Z",
     "Order #1043 - hand-thrown mug set"),
    ("pay_ABC129", "MID001", 15000, "USD", "fp_5e6f", "partially_refunded", "2026-10-25T11:00:00Z",
     "Order #1027 - glaze sampler and kiln time"),
    ("pay_DEF201", "MID002", 3450, "EUR", "fp_aa11", "succeeded", "2026-11-01T08:30:00Z",
     "Bestellung 5521 - Espresso beans 1 kg"),
    ("pay_DEF202", "MID002", 7800, "EUR", "fp_bb22", "succeeded", "2026-11-02T14:45:00Z",
     "Bestellung 5530 - Hand grinder"),
    ("pay_DEF203", "MID002", 1299, "EUR", "fp_aa11", "succeeded", "2026-10-29T19:10:00Z",
     "Bestellung 5502 - Filter papers"),
    # A second duplicate charge (EUR), so more than one refund story can run on a fresh store.
    ("pay_DEF204", "MID002", 2450, "EUR", "fp_ee55", "succeeded", "2026-11-03T09:00:00Z",
     "Bestellung 5541 - Milk jug"),
    ("pay_DEF205", "MID002", 2450, "EUR", "fp_ee55", "succeeded", "2026-11-03T09:02:30Z",
     "Bestellung 5541 - Milk jug"),
    ("pay_GHI301", "MID003", 20000, "GBP", "fp_cc33", "succeeded", "2026-10-20T12:00:00Z",
     "Invoice QF-889 - phone screen repair"),
    ("pay_GHI302", "MID003", 6500, "GBP", "fp_dd44", "succeeded", "2026-10-21T15:30:00Z",
     "Invoice QF-893 - battery replacement"),
)

# id, transaction_id, amount_cents, currency, reason, idempotency_key, created_at
REFUNDS: tuple[tuple[str, str, int, str, str, str, str], ...] = (
    ("re_seed0001", "pay_ABC126", 2500, "USD", "Customer returned the gift card unused",
     "seed:re_seed0001", "2026-10-29T10:00:00Z"),
    ("re_seed0002", "pay_ABC129", 5000, "USD", "Kiln time cancelled by the merchant",
     "seed:re_seed0002", "2026-10-26T09:30:00Z"),
)
# fmt: on

KB_DOCS: tuple[tuple[str, str, str], ...] = (
    (
        "KB-001",
        "Duplicate charges",
        "A duplicate charge is two or more successful payments from the same merchant, on the same card, "
        "for the same amount, a few minutes apart, usually caused by a customer pressing pay twice or a "
        "checkout retry. Duplicate charges reported within 24 hours of the original payment are refunded "
        "in full, without merchant approval: refund the later payment and keep the first. After 24 hours "
        "the merchant must confirm that only one order was fulfilled before the duplicate is refunded. "
        "Always check get_transaction for possible duplicates before refunding.",
    ),
    (
        "KB-002",
        "Refund policy and refund window",
        "Merchants may refund a successful payment up to 180 days after it was created. Refunds go back to "
        "the original card in the original currency; they cannot be sent to another card or converted. "
        "Refunds are irreversible once initiated and usually reach the cardholder in 5 to 10 business "
        "days. Failed payments cannot be refunded because no money was captured. Payments older than 180 "
        "days must be settled with the customer directly or escalated to a human.",
    ),
    (
        "KB-003",
        "Partial refunds",
        "A payment can be refunded in several parts. The total of all refunds on a payment can never "
        "exceed the original amount; the remaining refundable amount is the charged amount minus refunds "
        "already made. A payment with some money returned shows the status partially_refunded, and "
        "refunded once the full amount has been returned.",
    ),
    (
        "KB-004",
        "Chargebacks and disputes",
        "A chargeback happens when the cardholder disputes a payment with their bank. Do not refund a "
        "payment that already has an open chargeback: the customer would be paid twice. The merchant has "
        "7 days to submit evidence such as receipts, delivery confirmation and customer messages. A "
        "chargeback fee of 15.00 in the payment currency applies and is returned if the dispute is won.",
    ),
    (
        "KB-005",
        "Payout schedule",
        "Funds from successful payments are paid out to the merchant's bank account on a rolling 2 "
        "business day schedule for the standard plan and next business day for the growth plan. Refunds "
        "and chargebacks are deducted from the next payout. Payouts are paused while an account is "
        "suspended or under review.",
    ),
    (
        "KB-006",
        "Account suspension",
        "An account is suspended when risk checks flag unusual activity, excessive chargebacks or missing "
        "verification documents. While suspended, a merchant cannot receive payouts and refunds cannot be "
        "initiated through support tools; all refund requests for a suspended account must be escalated "
        "to a human on the risk team. Suspension is lifted once the risk team completes its review.",
    ),
    (
        "KB-007",
        "Processing fees",
        "The standard plan charges 2.9% plus 0.30 per successful card payment; the growth plan charges "
        "2.5% plus 0.25. Processing fees are not returned when a payment is refunded, except for duplicate "
        "charges refunded within 24 hours, where the fee of the duplicate is credited back to the merchant "
        "on the next payout.",
    ),
    (
        "KB-008",
        "When to escalate to a human",
        "Escalate to a human when the request involves a suspended account, a suspected fraud pattern, a "
        "refund above 1,000.00, a legal or regulatory complaint, or when policy does not clearly cover the "
        "situation. Include the merchant id, the transaction ids involved and a short summary of what was "
        "already checked.",
    ),
)


def insert_seed(conn: sqlite3.Connection) -> None:
    """Insert the demo rows; the caller runs this once, inside its schema transaction."""
    conn.executemany("INSERT INTO merchants VALUES (?, ?, ?, ?, ?, ?, ?)", MERCHANTS)
    conn.executemany("INSERT INTO transactions VALUES (?, ?, ?, ?, ?, ?, ?, ?)", TRANSACTIONS)
    conn.executemany("INSERT INTO refunds VALUES (?, ?, ?, ?, ?, ?, ?)", REFUNDS)
    conn.executemany("INSERT INTO kb_docs (id, title, body) VALUES (?, ?, ?)", KB_DOCS)
