"""Knowledge retrieval: keyword (an agent's FTS5 / BM25 query), embedding (cosine over vectors stored in
SQLite) and their reciprocal-rank fusion, behind one `KnowledgeIndex.search`.

Vectors are float32 BLOBs in the agent's own store, in `knowledge_vectors` beside its documents, keyed
by (collection, doc_id, model). They are computed here, inside the tool's activity, by the first search
that finds a document without a current vector (new, or its text's sha256 changed), and written with an
upsert: a retried, repeated or concurrent indexing stores each vector once. A search returns ids and
scores; no vector reaches a payload or workflow history.

A collection's vectors are read whole and ranked by one matrix product: exact, and for a corpus of a
few thousand documents cheaper than keeping an approximate index.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from activities.embeddings import shared_encoder
from activities.sqlite_store import SqliteStore
from core.knowledge import Passage, Ranked, RetrievalMode

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS knowledge_vectors (
        collection TEXT NOT NULL, doc_id TEXT NOT NULL, model TEXT NOT NULL,
        content_sha256 TEXT NOT NULL, vector BLOB NOT NULL,
        PRIMARY KEY (collection, doc_id, model))""",
)
TABLE = "knowledge_vectors"
RRF_K = 60  # the constant of Cormack et al.'s reciprocal-rank fusion
FUSION_DEPTH = 10  # how deep each ranking is read before fusing


class Encoder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


Passages = Callable[[sqlite3.Connection], Sequence[Passage]]
KeywordSearch = Callable[[sqlite3.Connection, str, int], Sequence[Ranked]]


def content_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def stale(
    conn: sqlite3.Connection, collection: str, model: str, passages: Sequence[Passage]
) -> list[Passage]:
    """The passages whose stored vector is missing or was computed from other text."""
    rows = conn.execute(
        "SELECT doc_id, content_sha256 FROM knowledge_vectors WHERE collection = ? AND model = ?",
        (collection, model),
    ).fetchall()
    current = {r[0]: r[1] for r in rows}
    return [p for p in passages if current.get(p.doc_id) != content_sha256(p.text)]


def store_vectors(
    conn: sqlite3.Connection,
    collection: str,
    model: str,
    passages: Sequence[Passage],
    vectors: NDArray[np.float32],
) -> int:
    """Upsert one vector per passage; returns how many rows changed (0 when all were there already)."""
    changed = 0
    for passage, vector in zip(passages, vectors, strict=True):
        cursor = conn.execute(
            """INSERT INTO knowledge_vectors (collection, doc_id, model, content_sha256, vector)
               VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (collection, doc_id, model) DO UPDATE
               SET content_sha256 = excluded.content_sha256, vector = excluded.vector
               WHERE content_sha256 != excluded.content_sha256""",
            (collection, passage.doc_id, model, content_sha256(passage.text), vector.astype("<f4").tobytes()),
        )
        changed += cursor.rowcount
    return changed


def cosine_ranking(
    conn: sqlite3.Connection, collection: str, model: str, query: NDArray[np.float32], limit: int
) -> list[Ranked]:
    import numpy as np

    rows = conn.execute(
        "SELECT doc_id, vector FROM knowledge_vectors WHERE collection = ? AND model = ?", (collection, model)
    ).fetchall()
    if not rows:
        return []
    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
    scores = matrix @ query  # rows and query are unit length: dot product = cosine
    order = np.argsort(-scores, kind="stable")[:limit]
    return [Ranked(doc_id=rows[i][0], score=round(float(scores[i]), 4)) for i in order]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Ranked]], limit: int) -> list[Ranked]:
    """Sum of 1 / (k + rank) over the rankings: no score scales to reconcile between BM25 and cosine."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.doc_id] = fused.get(hit.doc_id, 0.0) + 1.0 / (RRF_K + rank)
    ordered = sorted(fused.items(), key=lambda item: -item[1])[:limit]
    return [Ranked(doc_id=doc_id, score=round(score, 6)) for doc_id, score in ordered]


class KnowledgeIndex:
    """One collection of an agent's store: its passages, its keyword search, its vectors."""

    def __init__(
        self,
        store: SqliteStore,
        collection: str,
        passages: Passages,
        keyword: KeywordSearch,
        encoder: Callable[[], Encoder] = shared_encoder,
    ) -> None:
        self._store = store
        self._collection = collection
        self._passages = passages
        self._keyword = keyword
        self._encoder = encoder

    async def refresh(self) -> int:
        """Embed the passages without a current vector; returns how many vectors were written."""
        encoder = await asyncio.to_thread(self._encoder)

        def missing(conn: sqlite3.Connection) -> list[Passage]:
            return stale(conn, self._collection, encoder.name, self._passages(conn))

        todo = await self._store.read(missing)
        if not todo:
            return 0
        vectors = await asyncio.to_thread(encoder.encode, [p.text for p in todo])
        return await self._store.write(
            lambda conn: store_vectors(conn, self._collection, encoder.name, todo, vectors)
        )

    async def search(self, query: str, limit: int, mode: RetrievalMode) -> list[Ranked]:
        if mode is RetrievalMode.BM25:
            return list(await self._store.read(lambda conn: self._keyword(conn, query, limit)))
        depth = limit if mode is RetrievalMode.EMBEDDING else max(limit, FUSION_DEPTH)
        semantic = await self._semantic(query, depth)
        if mode is RetrievalMode.EMBEDDING:
            return semantic
        keyword = await self._store.read(lambda conn: self._keyword(conn, query, depth))
        return reciprocal_rank_fusion([keyword, semantic], limit)

    async def _semantic(self, query: str, limit: int) -> list[Ranked]:
        await self.refresh()
        encoder = await asyncio.to_thread(self._encoder)
        vector = (await asyncio.to_thread(encoder.encode, [query]))[0]
        return await self._store.read(
            lambda conn: cosine_ranking(conn, self._collection, encoder.name, vector, limit)
        )


__all__ = ["SCHEMA", "TABLE", "Encoder", "KnowledgeIndex", "reciprocal_rank_fusion", "store_vectors"]
