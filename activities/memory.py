"""Episodic memory: one episode per closed conversation, recalled for the same user's next one.

SQLite, keyed by the episode's key (thread id and the conversation's first run), so a retried write
stores one episode. Recall filters on agent and user in SQL: one user's episodes never reach another
user's prompt.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from datetime import datetime
from pathlib import Path

from temporalio import activity

from core.conversation import Episode, EpisodeQuery, Episodes, EpisodeStored

_SCHEMA = """
CREATE TABLE IF NOT EXISTS episodes (
    key TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    user_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    issue TEXT NOT NULL,
    resolution TEXT NOT NULL,
    ids TEXT NOT NULL,
    messages INTEGER NOT NULL,
    closed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS episodes_by_user ON episodes (agent, user_id, closed_at);
"""


class EpisodeStore:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)

    @classmethod
    def open(cls, path: Path | str) -> EpisodeStore:
        """A file (the worker's AGENT_DATA_DIR/memory.sqlite), or ":memory:" for a test's own."""
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        return cls(sqlite3.connect(str(path), check_same_thread=False))

    def write(self, episode: Episode) -> bool:
        """Store the episode; False when one of its key is there already (a retried write)."""
        row = (
            episode.key,
            episode.agent,
            episode.user_id,
            episode.thread_id,
            episode.issue,
            episode.resolution,
            json.dumps(list(episode.ids)),
            episode.messages,
            episode.closed_at.isoformat(),
        )
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO episodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row
            )
        return cursor.rowcount == 1

    def recent(self, query: EpisodeQuery) -> tuple[Episode, ...]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, agent, user_id, thread_id, issue, resolution, ids, messages, closed_at "
                "FROM episodes WHERE agent = ? AND user_id = ? ORDER BY closed_at DESC, rowid DESC LIMIT ?",
                (query.agent, query.user_id, query.limit),
            ).fetchall()
        return tuple(_episode(row) for row in rows)

    def count(self) -> int:
        with self._lock:
            (total,) = self._db.execute("SELECT COUNT(*) FROM episodes").fetchone()
        return int(total)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _episode(row: tuple[object, ...]) -> Episode:
    key, agent, user_id, thread_id, issue, resolution, ids, messages, closed_at = row
    return Episode(
        key=str(key),
        agent=str(agent),
        user_id=str(user_id),
        thread_id=str(thread_id),
        issue=str(issue),
        resolution=str(resolution),
        ids=tuple(json.loads(str(ids))),
        messages=int(str(messages)),
        closed_at=datetime.fromisoformat(str(closed_at)),
    )


class MemoryActivities:
    def __init__(self, store: EpisodeStore) -> None:
        self._store = store

    @activity.defn(name="memory.write_episode")
    async def write_episode(self, episode: Episode) -> EpisodeStored:
        return EpisodeStored(stored=await asyncio.to_thread(self._store.write, episode))

    @activity.defn(name="memory.recall_episodes")
    async def recall_episodes(self, query: EpisodeQuery) -> Episodes:
        return Episodes(episodes=await asyncio.to_thread(self._store.recent, query))
