"""Bearer API tokens, stored hashed in SQLite, each with an identity and roles; and the API's audit.

A token is `agt_<id>.<secret>`: the id names it (to revoke it, in logs), the secret is shown once when
minted and only its SHA-256 is stored, so a copy of the database lets nobody in. The audit table keeps
every refused request: a refusal never reaches the run, so its history would not show it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.errors import AuthError, InvalidInputError

IDENTITY = r"^[A-Za-z0-9_.@-]{1,128}$"
ROLE = r"^[a-z][a-z0-9_-]{0,31}$"
_TOKEN = re.compile(r"^agt_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token_id TEXT PRIMARY KEY, secret_sha256 TEXT NOT NULL, identity TEXT NOT NULL,
    roles TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS api_audit (
    at TEXT NOT NULL, identity TEXT, action TEXT NOT NULL, run_id TEXT, call_id TEXT,
    status INTEGER NOT NULL, type TEXT, message TEXT
);
"""


@dataclass(frozen=True)
class Identity:
    name: str
    roles: frozenset[str]
    token_id: str


@dataclass(frozen=True)
class AuditRow:
    identity: str | None
    action: str
    run_id: str | None
    call_id: str | None
    status: int
    type: str | None
    message: str | None


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=5)) as db, db:
            yield db

    def mint(self, identity: str, roles: list[str]) -> tuple[str, str]:
        """A new token for `identity` with `roles`: (token id, the token, shown only now)."""
        if not re.match(IDENTITY, identity):
            raise InvalidInputError(f"identity {identity!r} must match {IDENTITY}")
        bad = [role for role in roles if not re.match(ROLE, role)]
        if bad:
            raise InvalidInputError(f"roles {bad} must match {ROLE}")
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        now = datetime.now(UTC).isoformat()
        with self._db() as db:
            db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, NULL)",
                (token_id, _sha256(secret), identity, ",".join(sorted(set(roles))), now),
            )
        return token_id, f"agt_{token_id}.{secret}"

    def revoke(self, token_id: str) -> bool:
        """Revoke a token by its id (or the whole token); False when there was no such live token."""
        found = _TOKEN.match(token_id)
        token_id = found.group(1) if found else token_id
        now = datetime.now(UTC).isoformat()
        with self._db() as db:
            sql = "UPDATE tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL"
            return db.execute(sql, (now, token_id)).rowcount == 1

    def identify(self, token: str) -> Identity:
        """Who holds `token`; AuthError when it is malformed, unknown or revoked."""
        found = _TOKEN.match(token)
        if found is None:
            raise AuthError("the bearer token is malformed")
        token_id, secret = found.groups()
        with self._db() as db:
            sql = "SELECT secret_sha256, identity, roles, revoked_at FROM tokens WHERE token_id = ?"
            row = db.execute(sql, (token_id,)).fetchone()
        if row is None or not hmac.compare_digest(row[0], _sha256(secret)):
            raise AuthError("the bearer token is not valid")
        if row[3] is not None:
            raise AuthError("the bearer token was revoked")
        return Identity(name=row[1], roles=frozenset(r for r in row[2].split(",") if r), token_id=token_id)

    def record(self, row: AuditRow) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO api_audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (datetime.now(UTC).isoformat(), row.identity, row.action, row.run_id, row.call_id,
                 row.status, row.type, (row.message or "")[:500]),
            )  # fmt: skip

    def audit(self, run_id: str | None = None) -> list[AuditRow]:
        with self._db() as db:
            sql = "SELECT identity, action, run_id, call_id, status, type, message FROM api_audit"
            rows = db.execute(sql + (" WHERE run_id = ?" if run_id else ""), (run_id,) if run_id else ())
            return [AuditRow(*row) for row in rows.fetchall()]
