"""Parameterised SQL over one open connection; run inside `ShopStore.read`, `write` or `run_once`."""

from __future__ import annotations

import sqlite3
from typing import Any

from activities.sqlite_store import utc_now_iso


def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
    return None if row is None else dict(row)


def _rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    return [dict(row) for row in cursor.fetchall()]


def fetch_product(conn: sqlite3.Connection, ref: str) -> dict[str, Any] | None:
    """A product by id (PRD-1001) or SKU (KET-200)."""
    return _row(conn.execute("SELECT * FROM products WHERE id = ? OR sku = ?", (ref, ref)).fetchone())


def stock_levels(conn: sqlite3.Connection, product_id: str) -> list[dict[str, Any]]:
    return _rows(
        conn.execute(
            "SELECT s.warehouse, w.city, w.country, s.quantity FROM stock s"
            " JOIN warehouses w ON w.code = s.warehouse WHERE s.product_id = ? ORDER BY s.warehouse",
            (product_id,),
        )
    )


def rates_to(conn: sqlite3.Connection, country: str) -> list[dict[str, Any]]:
    return _rows(
        conn.execute(
            "SELECT r.*, w.city FROM shipping_rates r JOIN warehouses w ON w.code = r.warehouse"
            " WHERE r.country = ? ORDER BY r.warehouse, r.service",
            (country,),
        )
    )


def fetch_order(conn: sqlite3.Connection, order_id: str) -> dict[str, Any] | None:
    return _row(conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone())


def order_lines(conn: sqlite3.Connection, order_id: str) -> list[dict[str, Any]]:
    """The order's lines with product details and how many of each were already returned."""
    return _rows(
        conn.execute(
            """SELECT l.line_no, l.quantity, l.unit_price_cents, p.sku, p.name, p.returnable,
                      (SELECT COALESCE(SUM(r.quantity), 0) FROM return_lines r
                        WHERE r.order_id = l.order_id AND r.line_no = l.line_no) AS returned
               FROM order_lines l JOIN products p ON p.id = l.product_id
               WHERE l.order_id = ? ORDER BY l.line_no""",
            (order_id,),
        )
    )


def fetch_shipment(conn: sqlite3.Connection, order_id: str) -> dict[str, Any] | None:
    return _row(
        conn.execute(
            "SELECT s.*, w.city FROM shipments s JOIN warehouses w ON w.code = s.warehouse"
            " WHERE s.order_id = ?",
            (order_id,),
        ).fetchone()
    )


def insert_return(
    conn: sqlite3.Connection,
    *,
    return_id: str,
    order_id: str,
    reason: str,
    lines: list[tuple[int, int, int]],
    currency: str,
    key: str,
) -> None:
    """Record a return of (line_no, quantity, refund_cents); the key's UNIQUE constraint backs run_once."""
    conn.execute(
        "INSERT INTO returns"
        " (id, order_id, reason, refund_cents, currency, status, idempotency_key, created_at)"
        " VALUES (?, ?, ?, ?, ?, 'authorised', ?, ?)",
        (return_id, order_id, reason, sum(refund for _, _, refund in lines), currency, key, utc_now_iso()),
    )
    conn.executemany(
        "INSERT INTO return_lines (return_id, order_id, line_no, quantity, refund_cents)"
        " VALUES (?, ?, ?, ?, ?)",
        [(return_id, order_id, line_no, quantity, refund) for line_no, quantity, refund in lines],
    )


def set_order_status(conn: sqlite3.Connection, order_id: str, status: str) -> None:
    conn.execute("UPDATE orders SET status = ? WHERE id = ?", (status, order_id))


def insert_ticket(
    conn: sqlite3.Connection, *, ticket_id: str, order_id: str | None, reason: str, summary: str, key: str
) -> None:
    conn.execute(
        "INSERT INTO tickets (id, order_id, reason, summary, status, idempotency_key, created_at)"
        " VALUES (?, ?, ?, ?, 'escalated', ?, ?)",
        (ticket_id, order_id, reason, summary, key, utc_now_iso()),
    )
