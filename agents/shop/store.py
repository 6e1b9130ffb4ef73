"""The shop's own SQLite file (`shop.db`): catalogue, stock, orders, shipments, returns and tickets.

The engine's `SqliteStore` gives WAL, busy timeouts, `BEGIN IMMEDIATE` writes and `run_once`; this
subclass adds the tables, the seed and the seed day the demo's relative dates count back from.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, date, datetime
from typing import ClassVar

from activities.sqlite_store import SqliteStore
from agents.shop import seed

_SEED_DAY_KEY = "shop.seed_day"


def utc_today() -> date:
    return datetime.now(UTC).date()


class ShopStore(SqliteStore):
    FILENAME: ClassVar[str] = "shop.db"
    SEED_VERSION: ClassVar[str] = "shop-1"
    TABLES: ClassVar[frozenset[str]] = frozenset(
        {"warehouses", "products", "stock", "shipping_rates", "orders", "order_lines", "shipments"}
        | {"returns", "return_lines", "tickets"}
    )
    # Amounts are integer cents (CHECKed), dates ISO text; a UNIQUE idempotency_key on every table a
    # tool writes, so even a write that bypassed run_once could not record one call twice.
    SCHEMA: ClassVar[tuple[str, ...]] = (
        """CREATE TABLE IF NOT EXISTS warehouses (
            code TEXT PRIMARY KEY, city TEXT NOT NULL, country TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS products (
            id TEXT PRIMARY KEY, sku TEXT NOT NULL UNIQUE, name TEXT NOT NULL, description TEXT NOT NULL,
            price_cents INTEGER NOT NULL CHECK (price_cents > 0), currency TEXT NOT NULL,
            returnable INTEGER NOT NULL CHECK (returnable IN (0, 1)))""",
        """CREATE TABLE IF NOT EXISTS stock (
            product_id TEXT NOT NULL REFERENCES products(id),
            warehouse TEXT NOT NULL REFERENCES warehouses(code),
            quantity INTEGER NOT NULL CHECK (quantity >= 0), PRIMARY KEY (product_id, warehouse))""",
        """CREATE TABLE IF NOT EXISTS shipping_rates (
            warehouse TEXT NOT NULL REFERENCES warehouses(code), country TEXT NOT NULL, carrier TEXT NOT NULL,
            service TEXT NOT NULL, min_days INTEGER NOT NULL CHECK (min_days >= 0),
            max_days INTEGER NOT NULL CHECK (max_days >= min_days),
            price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
            PRIMARY KEY (warehouse, country, service))""",
        """CREATE INDEX IF NOT EXISTS shipping_rates_by_country ON shipping_rates (country)""",
        """CREATE TABLE IF NOT EXISTS orders (
            id TEXT PRIMARY KEY,
            status TEXT NOT NULL CHECK (status IN ('placed', 'shipped', 'delivered', 'returned')),
            placed_on TEXT NOT NULL, shipped_on TEXT, delivered_on TEXT, ship_country TEXT NOT NULL,
            ship_postcode TEXT NOT NULL, shipping_cents INTEGER NOT NULL CHECK (shipping_cents >= 0),
            currency TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS order_lines (
            order_id TEXT NOT NULL REFERENCES orders(id), line_no INTEGER NOT NULL,
            product_id TEXT NOT NULL REFERENCES products(id), quantity INTEGER NOT NULL CHECK (quantity > 0),
            unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents > 0),
            PRIMARY KEY (order_id, line_no))""",
        """CREATE TABLE IF NOT EXISTS shipments (
            order_id TEXT PRIMARY KEY REFERENCES orders(id),
            warehouse TEXT NOT NULL REFERENCES warehouses(code),
            carrier TEXT NOT NULL, service TEXT NOT NULL, tracking_number TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL CHECK (status IN ('in_transit', 'delivered')), shipped_on TEXT NOT NULL,
            eta TEXT NOT NULL, delivered_on TEXT)""",
        """CREATE TABLE IF NOT EXISTS returns (
            id TEXT PRIMARY KEY, order_id TEXT NOT NULL REFERENCES orders(id), reason TEXT NOT NULL,
            refund_cents INTEGER NOT NULL CHECK (refund_cents >= 0), currency TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('authorised')),
            idempotency_key TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS return_lines (
            return_id TEXT NOT NULL REFERENCES returns(id), order_id TEXT NOT NULL, line_no INTEGER NOT NULL,
            quantity INTEGER NOT NULL CHECK (quantity > 0),
            refund_cents INTEGER NOT NULL CHECK (refund_cents >= 0),
            PRIMARY KEY (return_id, line_no),
            FOREIGN KEY (order_id, line_no) REFERENCES order_lines(order_id, line_no))""",
        """CREATE INDEX IF NOT EXISTS return_lines_by_line ON return_lines (order_id, line_no)""",
        """CREATE TABLE IF NOT EXISTS tickets (
            id TEXT PRIMARY KEY, order_id TEXT REFERENCES orders(id),
            reason TEXT NOT NULL, summary TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('escalated')),
            idempotency_key TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL)""",
    )

    def seed(self, conn: sqlite3.Connection) -> None:
        today = utc_today()
        seed.insert_seed(conn, today)
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (_SEED_DAY_KEY, today.isoformat()))

    async def seed_day(self) -> date:
        """The day the demo data was created: ORD-1001 was delivered 5 days before it."""

        def load(conn: sqlite3.Connection) -> date:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (_SEED_DAY_KEY,)).fetchone()
            return date.fromisoformat(row[0])

        return await self.read(load)

    async def optimize(self) -> None:
        """SQLite's advice for a connection that closes: refresh the planner's statistics if stale."""

        def run() -> None:
            conn = self._connect()
            try:
                conn.execute("PRAGMA optimize")
            finally:
                conn.close()

        await asyncio.to_thread(run)
