"""Large payloads kept out of workflow history: temporalio's ExternalStorage with a local driver.

History then holds a small reference (sha256) per large payload, so a long conversation's history
grows by a few KB per turn instead of by its whole prompt. Content-addressed files make a store
idempotent (a retried or replayed store writes the same file). Every worker and client of a
deployment must share the directory; production swaps in temporalio's S3/GCS drivers.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    ExternalStorage,
    StorageDriver,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverStoreContext,
)

from core.config import ConfigError

# Prompts under this stay inline (readable in the UI); long conversations' prompts go to the store.
DEFAULT_INLINE_BYTES = 16 * 1024


class PayloadMissingError(LookupError):
    """A history references a payload this store does not hold (wrong or unshared directory)."""


class LocalFileDriver(StorageDriver):
    def __init__(self, root: Path) -> None:
        self._root = root

    def name(self) -> str:
        return "local-file"

    def type(self) -> str:
        return "agent.local-file"

    async def store(
        self, context: StorageDriverStoreContext, payloads: Sequence[Payload]
    ) -> list[StorageDriverClaim]:
        return await asyncio.to_thread(self._store_all, list(payloads))

    async def retrieve(
        self, context: StorageDriverRetrieveContext, claims: Sequence[StorageDriverClaim]
    ) -> list[Payload]:
        return await asyncio.to_thread(self._retrieve_all, list(claims))

    def _path(self, digest: str) -> Path:
        return self._root / digest[:2] / digest

    def _store_all(self, payloads: list[Payload]) -> list[StorageDriverClaim]:
        claims = []
        for payload in payloads:
            data = payload.SerializeToString()
            digest = hashlib.sha256(data).hexdigest()
            path = self._path(digest)
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                # Write then rename: a reader never sees half a payload, concurrent writers agree.
                fd, tmp = tempfile.mkstemp(dir=path.parent)
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(tmp, path)
            claims.append(StorageDriverClaim(claim_data={"sha256": digest}))
        return claims

    def _retrieve_all(self, claims: list[StorageDriverClaim]) -> list[Payload]:
        payloads = []
        for claim in claims:
            digest = claim.claim_data.get("sha256", "")
            path = self._path(digest)
            try:
                data = path.read_bytes()
            except (FileNotFoundError, NotADirectoryError):
                raise PayloadMissingError(
                    f"payload {digest} is not in {self._root}: every worker and client must share "
                    "AGENT_DATA_DIR/payloads (or use a shared driver)"
                ) from None
            if hashlib.sha256(data).hexdigest() != digest:
                raise PayloadMissingError(f"payload {digest} in {self._root} is corrupt")
            payloads.append(Payload.FromString(data))
        return payloads


def payload_storage(data_dir: Path, inline_bytes: int | None = None) -> ExternalStorage:
    """The deployment's payload store under `data_dir/payloads`; AGENT_PAYLOAD_INLINE_BYTES tunes it."""
    raw = os.environ.get("AGENT_PAYLOAD_INLINE_BYTES")
    threshold = inline_bytes if inline_bytes is not None else (int(raw) if raw and raw.isdigit() else None)
    if raw and not raw.isdigit() and inline_bytes is None:
        raise ConfigError(f"AGENT_PAYLOAD_INLINE_BYTES={raw!r}: expected a number of bytes")
    return ExternalStorage(
        drivers=[LocalFileDriver(data_dir / "payloads")],
        payload_size_threshold=DEFAULT_INLINE_BYTES if threshold is None else threshold,
    )
