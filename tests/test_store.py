"""The SQLite store: seeding, concurrency, FTS safety and run-once writes."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.merchant_support import Store
from agents.merchant_support import queries as q
from core.errors import InvalidInputError

SEEDED = {"merchants": 3, "transactions": 14, "refunds": 2, "kb_docs": 8, "tickets": 0, "idempotency": 0}


async def counts(store: Store) -> dict[str, int]:
    return {table: await store.count(table) for table in SEEDED}


def ticket_writer(ticket_id: str, key: str) -> Any:
    def write(conn: sqlite3.Connection) -> dict[str, Any]:
        q.insert_ticket(
            conn,
            ticket_id=ticket_id,
            merchant_id="MID001",
            subject="s",
            body="b",
            priority="normal",
            kind="support",
            key=key,
        )
        return {"ticket_id": ticket_id}

    return write


async def test_first_open_creates_and_seeds(store: Store) -> None:
    assert store.path.name == "support.db"
    assert await counts(store) == SEEDED
    assert await store.integrity_check() == "ok"
    mode = await store.read(lambda conn: conn.execute("PRAGMA journal_mode").fetchone()[0])
    assert mode == "wal"


async def test_second_open_changes_nothing(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    await store.run_once("wf:t1-1", "create_support_ticket", ticket_writer("tkt_1", "wf:t1-1"))
    before = await counts(store)
    again = Store.open(tmp_path)
    assert await counts(again) == before
    assert before["tickets"] == 1


def test_concurrent_first_opens_seed_once(tmp_path: Path) -> None:
    # Several worker processes may start at once against a fresh data dir.
    with ThreadPoolExecutor(max_workers=8) as pool:
        stores = list(pool.map(lambda _: Store.open(tmp_path), range(8)))
    assert asyncio.run(counts(stores[0])) == SEEDED


async def test_search_finds_duplicate_charge_policy(store: Store) -> None:
    hits = await store.read(lambda conn: q.search_kb(conn, "customer was charged twice, duplicate charge", 3))
    assert hits[0]["doc_id"] == "KB-001"
    assert hits[0]["title"] == "Duplicate charges"
    assert hits[0]["score"] > 0
    assert "24 hours" in hits[0]["snippet"] or "duplicate" in hits[0]["snippet"].lower()


async def test_search_respects_limit_and_stemming(store: Store) -> None:
    hits = await store.read(lambda conn: q.search_kb(conn, "refunds", 2))
    assert len(hits) == 2
    assert all("refund" in (h["title"] + h["snippet"]).lower() for h in hits)


@pytest.mark.parametrize(
    "query",
    [
        "'; DROP TABLE kb_docs; --",
        "\"'; DROP TABLE kb_docs; --",
        "NEAR(",
        "NEAR(refund duplicate, 2)",
        "*",
        "refund*",
        '"unbalanced',
        'a "b" "c',
        "AND OR NOT",
        "title:refund",
        "^refund",
        "{title body}: refund",
        "-",
        "",
        "   ",
        "🙂 émoji ünïcode",
        "x" * 5000,
        "\x00\x01",
    ],
)
async def test_hostile_queries_never_raise(store: Store, query: str) -> None:
    hits = await store.read(lambda conn: q.search_kb(conn, query, 3))
    assert isinstance(hits, list)
    assert await store.count("kb_docs") == 8


def test_any_text_is_a_safe_query(tmp_path: Path) -> None:
    conn = sqlite3.connect(Store.open(tmp_path).path)
    conn.row_factory = sqlite3.Row  # as Store sets it

    @settings(max_examples=300, deadline=None, database=None)
    @given(st.text(max_size=300))
    def search(text: str) -> None:
        assert isinstance(q.search_kb(conn, text, 10), list)

    try:
        search()
    finally:
        conn.close()


def test_fts_query_quotes_every_term() -> None:
    assert q.fts_query('refund" OR x NEAR(') == '"refund" OR "x" OR "near"'
    assert q.fts_query("!!! ***") is None
    assert q.fts_query("the a") == '"the" OR "a"'  # only stopwords: keep them rather than nothing


async def test_run_once_returns_first_result(store: Store) -> None:
    calls: list[str] = []

    def write(conn: sqlite3.Connection) -> dict[str, Any]:
        calls.append("x")
        result: dict[str, Any] = ticket_writer(f"tkt_{len(calls)}", "k1")(conn)
        return result

    first, replayed_first = await store.run_once("k1", "create_support_ticket", write)
    second, replayed_second = await store.run_once("k1", "create_support_ticket", write)
    assert (first, replayed_first) == ({"ticket_id": "tkt_1"}, False)
    assert (second, replayed_second) == ({"ticket_id": "tkt_1"}, True)
    assert calls == ["x"]
    assert await store.count("tickets") == 1
    assert await store.count("idempotency") == 1


async def test_run_once_failed_write_records_nothing(store: Store) -> None:
    def failing(conn: sqlite3.Connection) -> dict[str, Any]:
        ticket_writer("tkt_x", "k2")(conn)
        raise RuntimeError("crash after the insert")

    with pytest.raises(RuntimeError):
        await store.run_once("k2", "create_support_ticket", failing)
    assert await store.count("tickets") == 0
    assert await store.count("idempotency") == 0
    result, replayed = await store.run_once("k2", "create_support_ticket", ticket_writer("tkt_y", "k2"))
    assert result == {"ticket_id": "tkt_y"} and not replayed


async def test_run_once_key_of_another_tool_is_refused(store: Store) -> None:
    await store.run_once("k3", "create_support_ticket", ticket_writer("tkt_1", "k3"))
    with pytest.raises(InvalidInputError):
        await store.run_once("k3", "initiate_refund", ticket_writer("tkt_2", "k3b"))


async def test_run_once_concurrent_same_key_writes_once(tmp_path: Path) -> None:
    # Separate Store objects stand in for separate worker processes sharing the file.
    stores = [Store.open(tmp_path) for _ in range(4)]
    results = await asyncio.gather(
        *(
            stores[i % 4].run_once("wf:t1-1", "create_support_ticket", ticket_writer(f"tkt_{i}", "wf:t1-1"))
            for i in range(16)
        )
    )
    assert len({r[0]["ticket_id"] for r in results}) == 1
    assert sum(1 for _, replayed in results if not replayed) == 1
    assert await stores[0].count("tickets") == 1


async def test_count_refuses_unknown_table(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.count("sqlite_master; DROP TABLE merchants")
