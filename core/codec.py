"""Encryption of history: an AES-256-GCM payload codec with key ids, so keys can rotate.

Keys come from worker config, `AGENT_CODEC_KEYS="kid1:<base64 32 bytes>,kid2:<base64 32 bytes>"`:
the first key encrypts, every listed key decrypts (rotation: put the new key first, keep the old
ones until their histories expire). Each payload names its key in its metadata. Decoding with an
unknown key id, or a key that does not authenticate, raises: ciphertext is never passed on as data.
`AGENT_ENCRYPT_HISTORY=1` makes the keys mandatory, so a worker without them refuses to start
instead of silently writing plaintext.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
import re
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from core.config import ConfigError

KEYS_ENV = "AGENT_CODEC_KEYS"
REQUIRED_ENV = "AGENT_ENCRYPT_HISTORY"
ENCODING = b"binary/encrypted"
KEY_ID_META = "encryption-key-id"
KEY_BYTES = 32
NONCE_BYTES = 12
NEW_KEY_COMMAND = 'python -c "import base64,os; print(base64.b64encode(os.urandom(32)).decode())"'
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class CodecError(ValueError):
    """A payload cannot be decrypted: unknown key id, wrong key, or tampered data."""


class EncryptionCodec(PayloadCodec):
    """Encrypts whole payloads (data and metadata) with AES-256-GCM; the key id is authenticated too."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ConfigError("an encryption codec needs at least one key")
        self._current = keys[0][0]
        self._ciphers = {kid: AESGCM(key) for kid, key in keys}

    @property
    def key_id(self) -> str:
        """The id of the key that encrypts new payloads."""
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._ciphers)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(p) for p in payloads]

    def _encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        kid = self._current.encode()
        sealed = self._ciphers[self._current].encrypt(nonce, payload.SerializeToString(), kid)
        return Payload(metadata={"encoding": ENCODING, KEY_ID_META: kid}, data=nonce + sealed)

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload  # never encrypted (written before encryption was on): nothing to undo
        kid = payload.metadata.get(KEY_ID_META, b"").decode(errors="replace")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            known = ", ".join(self._ciphers)
            raise CodecError(
                f"payload was encrypted with key id {kid!r}, which is not among the configured keys "
                f"({known}); add it to {KEYS_ENV} to read this history"
            )
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, kid.encode())
        except InvalidTag:
            raise CodecError(
                f"payload with key id {kid!r} failed authentication: wrong key material or tampered data"
            ) from None
        return Payload.FromString(plain)


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    """`kid:base64,kid:base64` → [(kid, key)]; ConfigError (never quoting key material) when malformed."""
    keys: list[tuple[str, bytes]] = []
    for n, entry in enumerate(spec.split(","), start=1):
        kid, sep, encoded = entry.strip().partition(":")
        if not sep or not _KEY_ID.match(kid):
            raise ConfigError(
                f"{KEYS_ENV} entry {n}: expected KEY_ID:BASE64_KEY with an id of letters, digits, '_.-'"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{KEYS_ENV} key {kid!r} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise ConfigError(
                f"{KEYS_ENV} key {kid!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES} "
                f"(make one with: {NEW_KEY_COMMAND})"
            )
        if any(kid == seen for seen, _ in keys):
            raise ConfigError(f"{KEYS_ENV} lists key id {kid!r} twice")
        keys.append((kid, key))
    return keys


def codec_from_env(env: Mapping[str, str] | None = None) -> EncryptionCodec | None:
    """The codec configured by the environment; None when encryption is off."""
    env = os.environ if env is None else env
    spec = env.get(KEYS_ENV, "").strip()
    if not spec:
        if env.get(REQUIRED_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
            raise ConfigError(
                f"{REQUIRED_ENV} is on but {KEYS_ENV} is not set: refusing to write plaintext history"
            )
        return None
    return EncryptionCodec(parse_keys(spec))


def data_converter(codec: PayloadCodec | None) -> DataConverter:
    """The pydantic converter, encrypting payloads and failure messages when a codec is given."""
    if codec is None:
        return pydantic_data_converter
    # Failure messages often quote arguments ("no transaction 'pay_X'"): encrypt them as well.
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def decode_history(history: WorkflowHistory, codec: PayloadCodec | None) -> WorkflowHistory:
    """A copy of `history` with every payload decoded, for readers that decode plain JSON (trace)."""
    if codec is None:
        return history
    events = []
    for event in history.events:
        copy = type(event)()
        copy.CopyFrom(event)
        await _decode_message(copy, codec)
        events.append(copy)
    return WorkflowHistory(workflow_id=history.workflow_id, events=events)


async def _decode_message(message: Message, codec: PayloadCodec) -> None:
    """Walk a protobuf message and decode every Payload in place (fields, lists and maps)."""
    if isinstance(message, Payload):
        if message.metadata.get("encoding") == ENCODING:
            [plain] = await codec.decode([message])
            message.CopyFrom(plain)
        return
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        entry = descriptor.message_type
        if entry.GetOptions().map_entry:
            items = list(value.values()) if entry.fields_by_name["value"].message_type else []
        elif descriptor.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            await _decode_message(item, codec)
    if isinstance(message, Failure):
        _restore_failure_text(message)


def _restore_failure_text(failure: Failure) -> None:
    """Put a decoded failure's message and stack trace back where readers look for them."""
    if not failure.HasField("encoded_attributes"):
        return
    try:
        attrs = json.loads(failure.encoded_attributes.data)
    except ValueError:
        return
    if isinstance(attrs, dict):
        failure.message = str(attrs.get("message", failure.message))
        failure.stack_trace = str(attrs.get("stack_trace", failure.stack_trace))
