"""The merchant-support demo's SQLite store: merchants, transactions, refunds, tickets, policy documents.

The engine's SqliteStore (activities/sqlite_store.py) gives it WAL, short transactions and
`run_once`, the idempotent write every side effect goes through.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from activities import knowledge
from activities.sqlite_store import SqliteStore, utc_now_iso
from agents.merchant_support import seed
from core.agent import AgentEnv

TABLES = frozenset(
    {"merchants", "transactions", "refunds", "tickets", "kb_docs", "idempotency", knowledge.TABLE}
)

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS merchants (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL, country TEXT NOT NULL,
        currency TEXT NOT NULL, email TEXT NOT NULL, plan TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS transactions (
        id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL REFERENCES merchants(id),
        amount_cents INTEGER NOT NULL CHECK (amount_cents > 0), currency TEXT NOT NULL,
        card_fingerprint TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL,
        description TEXT NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS transactions_by_merchant ON transactions (merchant_id, created_at)""",
    """CREATE TABLE IF NOT EXISTS refunds (
        id TEXT PRIMARY KEY, transaction_id TEXT NOT NULL REFERENCES transactions(id),
        amount_cents INTEGER NOT NULL CHECK (amount_cents > 0), currency TEXT NOT NULL,
        reason TEXT NOT NULL, idempotency_key TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS refunds_by_transaction ON refunds (transaction_id)""",
    """CREATE TABLE IF NOT EXISTS tickets (
        id TEXT PRIMARY KEY, merchant_id TEXT REFERENCES merchants(id), subject TEXT NOT NULL,
        body TEXT NOT NULL, priority TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('support', 'escalation')),
        idempotency_key TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS kb_docs (id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL)""",
    # A contentful FTS table keyed by doc_id: an external-content table would hang off kb_docs'
    # implicit rowid, which VACUUM may renumber.
    """CREATE VIRTUAL TABLE IF NOT EXISTS kb_fts
        USING fts5(doc_id UNINDEXED, title, body, tokenize = 'porter unicode61')""",
    """CREATE TRIGGER IF NOT EXISTS kb_docs_ai AFTER INSERT ON kb_docs BEGIN
        INSERT INTO kb_fts (doc_id, title, body) VALUES (new.id, new.title, new.body); END""",
    # The documents' sentence vectors, filled by the first semantic search (activities/knowledge.py).
    *knowledge.SCHEMA,
)


class Store(SqliteStore):
    """`data_dir/support.db`."""

    FILENAME = "support.db"
    SCHEMA = SCHEMA
    TABLES = TABLES

    def seed(self, conn: sqlite3.Connection) -> None:
        seed.insert_seed(conn)


@asynccontextmanager
async def open_store(env: AgentEnv) -> AsyncIterator[Store]:
    """The agent's dependency: one store per worker (each operation opens its own connection)."""
    yield await Store.open_async(env.data_dir)


__all__ = ["TABLES", "Store", "open_store", "utc_now_iso"]
