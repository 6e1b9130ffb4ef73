"""An agent's own SQLite store: shared by worker processes, idempotent writes, async API.

An agent subclasses `SqliteStore` with its file name, schema, tables and seed; the engine gives it
what every side effect needs (`run_once`: at most once per idempotency key) and what tests count.

Several workers may open the same file at once, so: WAL (readers never block the writer), a busy
timeout instead of immediate "database is locked", one short-lived connection per operation (no
connection crosses threads), and every write inside `BEGIN IMMEDIATE` so the write lock is taken up
front and an idempotency check and its write cannot interleave.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from core.errors import InvalidInputError

T = TypeVar("T")
BUSY_TIMEOUT_S = 10.0
ENGINE_SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS idempotency (
        key TEXT PRIMARY KEY, tool TEXT NOT NULL, result_json TEXT NOT NULL, created_at TEXT NOT NULL)""",
)


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SqliteStore:
    """Async facade over `data_dir/FILENAME`; the sync work runs in threads via asyncio.to_thread."""

    FILENAME: ClassVar[str] = "store.db"
    SCHEMA: ClassVar[tuple[str, ...]] = ()
    TABLES: ClassVar[frozenset[str]] = frozenset()
    SEED_VERSION: ClassVar[str] = "1"

    def __init__(self, path: Path) -> None:
        self.path = path

    def seed(self, conn: sqlite3.Connection) -> None:
        """Insert the demo data once, inside the creating transaction (none by default)."""

    @classmethod
    def open(cls, data_dir: Path | str) -> Self:
        """Create, migrate and seed the database if needed; safe to race from several processes."""
        directory = Path(data_dir)
        directory.mkdir(parents=True, exist_ok=True)
        store = cls(directory / cls.FILENAME)
        store._enable_wal()
        with store._transaction(write=True) as conn:
            for statement in (*ENGINE_SCHEMA, *cls.SCHEMA):
                conn.execute(statement)
            seeded = conn.execute("SELECT value FROM meta WHERE key = 'seed_version'").fetchone()
            if seeded is None:
                store.seed(conn)
                conn.execute("INSERT INTO meta (key, value) VALUES ('seed_version', ?)", (cls.SEED_VERSION,))
        return store

    @classmethod
    async def open_async(cls, data_dir: Path | str) -> Self:
        return await asyncio.to_thread(cls.open, data_dir)

    def _enable_wal(self) -> None:
        """Switch the file to WAL (persistent; later connections inherit it).

        The switch needs an exclusive lock and SQLite may report "locked" at once instead of
        waiting on the busy handler when several processes open a new file together: retry.
        """
        for attempt in range(100):
            conn = self._connect()
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
            finally:
                conn.close()
            time.sleep(0.05)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves so the lock mode is explicit.
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            # Reads get a snapshot too, so a multi-query read sees one consistent state.
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def _read_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._transaction(write=False) as conn:
            return fn(conn)

    def _write_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        with self._transaction(write=True) as conn:
            return fn(conn)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` in a read transaction off the event loop."""
        return await asyncio.to_thread(self._read_sync, fn)

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(conn)` in a `BEGIN IMMEDIATE` transaction off the event loop."""
        return await asyncio.to_thread(self._write_sync, fn)

    async def run_once(
        self, key: str, tool: str, write: Callable[[sqlite3.Connection], dict[str, Any]]
    ) -> tuple[dict[str, Any], bool]:
        """Run a side effect at most once per key: returns (result, replayed).

        The key check, the write and the key's record share one transaction, so a retried or
        replayed call gets the first result back; if `write` raises nothing is recorded.
        """

        def once(conn: sqlite3.Connection) -> tuple[dict[str, Any], bool]:
            row = conn.execute("SELECT tool, result_json FROM idempotency WHERE key = ?", (key,)).fetchone()
            if row is not None:
                if row["tool"] != tool:
                    raise InvalidInputError(
                        f"idempotency key {key!r} was already used by tool {row['tool']!r}"
                    )
                return json.loads(row["result_json"]), True
            result = write(conn)
            conn.execute(
                "INSERT INTO idempotency (key, tool, result_json, created_at) VALUES (?, ?, ?, ?)",
                (key, tool, json.dumps(result, sort_keys=True), utc_now_iso()),
            )
            return result, False

        return await self.write(once)

    async def count(self, table: str) -> int:
        """Row count of one table (for tests and benchmarks)."""
        if table not in self.TABLES | {"idempotency"}:
            raise ValueError(f"unknown table {table!r}")
        # Identifiers cannot be bound as parameters; `table` is checked against TABLES above.
        return await self.read(lambda conn: int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]))

    async def integrity_check(self) -> str:
        """SQLite's own integrity check: "ok" when the file is sound."""
        return await self.read(lambda conn: str(conn.execute("PRAGMA integrity_check").fetchone()[0]))
