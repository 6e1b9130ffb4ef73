"""History encryption: the AES-GCM codec, key rotation, refusals, a real run and the codec server."""

from __future__ import annotations

import base64
import json
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.converter import PayloadCodec
from temporalio.testing import WorkflowEnvironment

from agents.merchant_support import Store
from cli.codec_server import serve
from cli.trace import build_report
from core.codec import (
    ENCODING,
    KEY_ID_META,
    CodecError,
    EncryptionCodec,
    codec_from_env,
    data_converter,
    decode_history,
    parse_keys,
)
from core.config import ConfigError
from core.models import AgentLimits, AgentRequest, AgentResult, ApproveSignal, RunState
from tests.conftest import scripted_provider, strict_worker
from tests.test_agent_workflow import REFUND, answer, call, calls, wait_for_pending
from workflows.agent import AgentWorkflow

KEY1, KEY2 = bytes(range(32)), bytes(range(32, 64))
B64 = {kid: base64.b64encode(k).decode() for kid, k in (("k1", KEY1), ("k2", KEY2))}
SECRET_TASK = "Merchant MID001 says pay_ABC123 was charged twice (ticket zebra-orchid-7731); refund it."


def codec(*kids: str) -> EncryptionCodec:
    keys = {"k1": KEY1, "k2": KEY2}
    return EncryptionCodec([(kid, keys[kid]) for kid in kids])


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def test_round_trip_hides_the_data_and_names_the_key() -> None:
    [sealed] = await codec("k1").encode([plain("pay_ABC124 49.99")])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID_META] == b"k1"
    assert b"pay_ABC124" not in sealed.SerializeToString() and b"json/plain" not in sealed.data
    assert await codec("k1").decode([sealed]) == [plain("pay_ABC124 49.99")]


async def test_rotation_keeps_old_payloads_readable() -> None:
    [old] = await codec("k1").encode([plain("before rotation")])
    rotated = codec("k2", "k1")  # k2 encrypts now; k1 still decrypts
    [new] = await rotated.encode([plain("after rotation")])
    assert new.metadata[KEY_ID_META] == b"k2"
    assert await rotated.decode([old, new]) == [plain("before rotation"), plain("after rotation")]


async def test_unknown_key_id_and_wrong_key_are_refused_never_passed_through() -> None:
    [sealed] = await codec("k1").encode([plain("secret")])
    with pytest.raises(CodecError, match=r"key id 'k1'.*not among the configured keys"):
        await codec("k2").decode([sealed])
    impostor = EncryptionCodec([("k1", KEY2)])  # right id, wrong key material
    with pytest.raises(CodecError, match="failed authentication"):
        await impostor.decode([sealed])
    tampered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(CodecError):
        await codec("k1").decode([tampered])


async def test_unencrypted_payloads_from_before_encryption_still_decode() -> None:
    assert await codec("k1").decode([plain("old history")]) == [plain("old history")]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("k1", "expected KEY_ID:BASE64_KEY"),
        ("k1:not*base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "is 5 bytes; AES-256 needs 32"),
        (f"k1:{B64['k1']},k1:{B64['k2']}", "lists key id 'k1' twice"),
        (f"bad id:{B64['k1']}", "expected KEY_ID:BASE64_KEY"),
        (f"k1:{B64['k1']},", "entry 2"),
    ],
)
def test_malformed_keys_are_refused_with_a_clear_message(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        parse_keys(spec)
    assert B64["k1"] not in str(refused.value)  # key material never lands in an error


def test_codec_from_env() -> None:
    assert codec_from_env({}) is None
    made = codec_from_env({"AGENT_CODEC_KEYS": f"k2:{B64['k2']}, k1:{B64['k1']}"})
    assert made is not None and (made.key_id, made.key_ids) == ("k2", ("k2", "k1"))
    with pytest.raises(ConfigError, match="refusing to write plaintext"):
        codec_from_env({"AGENT_ENCRYPT_HISTORY": "1"})
    with pytest.raises(ConfigError, match="not valid base64"):
        codec_from_env({"AGENT_CODEC_KEYS": "k1:@@@"})


# ── a real run with the codec on ────────────────────────────────────────────


def history_bytes(history: WorkflowHistory) -> bytes:
    return b"".join(event.SerializeToString() for event in history.events)


def payloads_of(history: WorkflowHistory) -> list[Payload]:
    found: list[Payload] = []
    for event in history.events:
        attrs = event.activity_task_completed_event_attributes
        if event.HasField("activity_task_completed_event_attributes"):
            found.extend(attrs.result.payloads)
    return found


async def encrypted_run(env: WorkflowEnvironment, store: Store, sealer: PayloadCodec) -> WorkflowHistory:
    config = env.client.config()
    config["data_converter"] = data_converter(sealer)
    client = Client(**config)
    script = [calls(call("get_transaction", transaction_id="pay_ABC123")), calls(REFUND), answer("Refunded.")]
    queue = f"tq-{uuid.uuid4().hex[:8]}"

    async def approve(handle: WorkflowHandle[Any, AgentResult]) -> None:
        status = await wait_for_pending(handle)
        await handle.signal(
            AgentWorkflow.approve,
            ApproveSignal(call_id="t2-1", approver="alice", args_sha256=status.pending[0].args_sha256),
        )

    provider = scripted_provider({SECRET_TASK: script})
    async with strict_worker(client, queue, provider, store):
        handle = await client.start_workflow(
            AgentWorkflow.run,
            AgentRequest(task=SECRET_TASK, user_id="tester", limits=AgentLimits(max_turns=5)),
            id=f"enc-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )
        await approve(handle)
        result = await handle.result()
    assert result.status == RunState.COMPLETED
    return await handle.fetch_history()


@pytest.fixture
async def sealed_history(env: WorkflowEnvironment, store: Store) -> WorkflowHistory:
    return await encrypted_run(env, store, codec("k1"))


async def test_history_of_an_encrypted_run_holds_no_plaintext(sealed_history: WorkflowHistory) -> None:
    raw_json, raw = sealed_history.to_json(), history_bytes(sealed_history)
    for secret in ("zebra-orchid-7731", "pay_ABC124", "49.99", "refund_id", "fp_9f2c", "Refunded."):
        assert secret not in raw_json and secret.encode() not in raw, secret
        assert base64.b64encode(secret.encode()).decode()[:8] not in raw_json or len(secret) < 6, secret
    results = payloads_of(sealed_history)
    assert results and all(p.metadata["encoding"] == ENCODING for p in results)


async def test_trace_renders_the_encrypted_history_through_the_codec(sealed_history: WorkflowHistory) -> None:
    opened = await decode_history(sealed_history, codec("k2", "k1"))  # after a rotation, too
    report = await build_report(opened)
    assert report.task == SECRET_TASK and report.status == RunState.COMPLETED.value
    assert "pay_ABC124" in (report.answer or "")
    assert any("pay_ABC124" in json.dumps(turn.model_dump(mode="json")) for turn in report.turns)
    with pytest.raises(CodecError):
        await decode_history(sealed_history, codec("k2"))


@pytest.fixture
def codec_server() -> Iterator[str]:
    server = serve(codec("k1"), "127.0.0.1", 0, frozenset({"http://localhost:8233"}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def post(url: str, body: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    request = urllib.request.Request(
        url, body, headers={"Content-Type": "application/json", "Origin": "http://localhost:8233"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


async def test_codec_server_decodes_a_payload_from_the_history(
    sealed_history: WorkflowHistory, codec_server: str
) -> None:
    sealed = payloads_of(sealed_history)
    body = json_format.MessageToJson(Payloads(payloads=sealed)).encode()
    status, headers, doc = post(f"{codec_server}/default/decode", body)
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "http://localhost:8233"
    decoded = json_format.ParseDict(doc, Payloads()).payloads
    texts = [json.loads(p.data) for p in decoded]
    assert any(
        isinstance(t, dict) and t.get("result", {}).get("transaction_id") == "pay_ABC123" for t in texts
    )
    status, _, doc = post(
        f"{codec_server}/encode", json_format.MessageToJson(Payloads(payloads=decoded)).encode()
    )
    assert status == 200 and all(
        base64.b64decode(p["metadata"]["encoding"]) == ENCODING for p in doc["payloads"]
    )
    status, _, doc = post(f"{codec_server}/decode", b'{"payloads": [{"metadata": 7}]}')
    assert status == 400 and "error" in doc
