"""Parameterised SQL over one open connection; run inside `Store.read`, `Store.write` or `run_once`."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from activities.sqlite_store import utc_now_iso

DUPLICATE_WINDOW_S = 600
MAX_QUERY_TERMS = 24
# Words that match nearly every policy and would only dilute bm25.
_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "my",
        "of",
        "on",
        "or",
        "our",
        "the",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    }
)
_TERM = re.compile(r"\w+")


def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    return None if row is None else dict(row)


def fetch_transaction(conn: sqlite3.Connection, transaction_id: str) -> dict[str, Any] | None:
    return _row(conn.execute("SELECT * FROM transactions WHERE id = ?", (transaction_id,)).fetchone())


def fetch_merchant(conn: sqlite3.Connection, merchant_id: str) -> dict[str, Any] | None:
    return _row(conn.execute("SELECT * FROM merchants WHERE id = ?", (merchant_id,)).fetchone())


def refunded_cents(conn: sqlite3.Connection, transaction_id: str) -> int:
    row = conn.execute(
        "SELECT COALESCE(SUM(amount_cents), 0) FROM refunds WHERE transaction_id = ?", (transaction_id,)
    ).fetchone()
    return int(row[0])


def possible_duplicates(conn: sqlite3.Connection, txn: dict[str, Any]) -> list[dict[str, Any]]:
    """Other payments of the same merchant, card, amount and currency within the duplicate window."""
    rows = conn.execute(
        """SELECT id, created_at, status FROM transactions
           WHERE merchant_id = ? AND card_fingerprint = ? AND amount_cents = ? AND currency = ?
             AND id != ?
             AND ABS(CAST(strftime('%s', created_at) AS INTEGER)
                     - CAST(strftime('%s', ?) AS INTEGER)) <= ?
           ORDER BY created_at, id""",
        (
            txn["merchant_id"],
            txn["card_fingerprint"],
            txn["amount_cents"],
            txn["currency"],
            txn["id"],
            txn["created_at"],
            DUPLICATE_WINDOW_S,
        ),
    ).fetchall()
    return [dict(r) for r in rows]


def recent_transactions(conn: sqlite3.Connection, merchant_id: str, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT * FROM transactions WHERE merchant_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
        (merchant_id, limit),
    ).fetchall()
    return [dict(r) for r in rows]


def insert_refund(
    conn: sqlite3.Connection, *, refund_id: str, txn: dict[str, Any], amount_cents: int, reason: str, key: str
) -> str:
    """Record a refund and move the payment to refunded / partially_refunded; returns created_at."""
    created_at = utc_now_iso()
    conn.execute(
        "INSERT INTO refunds"
        " (id, transaction_id, amount_cents, currency, reason, idempotency_key, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (refund_id, txn["id"], amount_cents, txn["currency"], reason, key, created_at),
    )
    total = refunded_cents(conn, txn["id"])
    status = "refunded" if total >= txn["amount_cents"] else "partially_refunded"
    conn.execute("UPDATE transactions SET status = ? WHERE id = ?", (status, txn["id"]))
    return created_at


def insert_ticket(
    conn: sqlite3.Connection,
    *,
    ticket_id: str,
    merchant_id: str | None,
    subject: str,
    body: str,
    priority: str,
    kind: str,
    key: str,
) -> str:
    created_at = utc_now_iso()
    conn.execute(
        "INSERT INTO tickets (id, merchant_id, subject, body, priority, kind, idempotency_key, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (ticket_id, merchant_id, subject, body, priority, kind, key, created_at),
    )
    return created_at


def fts_query(text: str) -> str | None:
    """Turn arbitrary text into a safe FTS5 query: every term quoted, OR-ed; None if no terms.

    Quoting makes operators (NEAR, AND, *, ^, column filters) plain words, and terms come from
    `\\w+` so they can never contain a double quote that would end the string early.
    """
    terms = [t.lower() for t in _TERM.findall(text[:2000])]
    useful = [t for t in terms if t not in _STOPWORDS] or terms
    unique = list(dict.fromkeys(useful))[:MAX_QUERY_TERMS]
    return " OR ".join(f'"{t}"' for t in unique) or None


def search_kb(conn: sqlite3.Connection, query: str, limit: int) -> list[dict[str, Any]]:
    """bm25-ranked policy documents (title weighted 4x) with a snippet of the matching body."""
    match = fts_query(query)
    if match is None:
        return []
    rows = conn.execute(
        """SELECT doc_id, title, snippet(kb_fts, 2, '', '', '…', 24) AS snippet,
                  bm25(kb_fts, 0.0, 4.0, 1.0) AS rank
           FROM kb_fts WHERE kb_fts MATCH ? ORDER BY rank LIMIT ?""",
        (match, max(1, min(limit, 10))),
    ).fetchall()
    return [
        {"doc_id": r["doc_id"], "title": r["title"], "snippet": r["snippet"], "score": round(-r["rank"], 4)}
        for r in rows
    ]
