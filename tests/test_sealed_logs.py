"""With history encrypted, the JSON logs of a run carry no plaintext task, arguments or results."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from structlog.testing import CapturingLoggerFactory
from temporalio.testing import WorkflowEnvironment

from agents.merchant_support import Store
from core.logging import build_processors, configure_logging, route_stdlib_logging
from core.redaction import redactor_from_env
from core.sealing import digest, seal, sealed_from_env
from tests.test_codec import SECRET_TASK, codec, encrypted_run

# What an encrypted run is about: its task, the refund's arguments, and what the tools returned.
PLAINTEXT = (
    "zebra-orchid-7731",
    "pay_ABC123",
    "MID001",
    "pay_ABC124",
    "49.99",
    "charged twice",
    "fp_9f2c",
    "Refunded.",
)


def capture_chain(sealed: bool) -> Iterator[CapturingLoggerFactory]:
    factory = CapturingLoggerFactory()
    structlog.configure(
        processors=build_processors("json", redactor_from_env(), sealed=sealed),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    route_stdlib_logging()  # the SDK's and workflow.logger's events join the chain, as in the worker
    yield factory
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()


@pytest.fixture
def sealed_logs() -> Iterator[CapturingLoggerFactory]:
    yield from capture_chain(sealed=True)


@pytest.fixture
def open_logs() -> Iterator[CapturingLoggerFactory]:
    yield from capture_chain(sealed=False)


def lines(factory: CapturingLoggerFactory) -> list[str]:
    return [str(c.args[0]) for c in factory.logger.calls]


async def test_the_logs_of_an_encrypted_run_hold_no_plaintext(
    env: WorkflowEnvironment, store: Store, sealed_logs: CapturingLoggerFactory
) -> None:
    await encrypted_run(env, store, codec("k1"))
    logged = lines(sealed_logs)
    events = [json.loads(line) for line in logged]
    names = {e["event"] for e in events}
    assert {"llm.request", "llm.response", "tool.start", "tool.end"} <= names  # the run was logged
    text = "\n".join(logged)
    for secret in (SECRET_TASK, *PLAINTEXT):
        assert secret not in text, secret
    started = next(e for e in events if e["event"] == "tool.start" and e.get("tool") == "initiate_refund")
    assert started["args"]["chars"] > 0 and len(started["args"]["sha256"]) == 16


async def test_without_encryption_the_same_events_carry_the_text(
    env: WorkflowEnvironment, store: Store, open_logs: CapturingLoggerFactory
) -> None:
    """The same check fails without sealing: it looks where the plaintext would be."""
    await encrypted_run(env, store, codec("k1"))
    text = "\n".join(lines(open_logs))
    assert "pay_ABC124" in text and "zebra-orchid-7731" in text


def test_sealing_is_on_with_codec_keys_unless_the_level_is_debug() -> None:
    assert sealed_from_env({"AGENT_CODEC_KEYS": "k1:abc"}, debug=False)
    assert not sealed_from_env({"AGENT_CODEC_KEYS": "k1:abc"}, debug=True)
    assert not sealed_from_env({}, debug=False)


def test_a_digest_names_length_and_hash_only() -> None:
    event = seal(None, "info", {"event": "tool.start", "tool": "t", "args": {"id": "pay_1"}, "turn": 2})
    assert event["tool"] == "t" and event["turn"] == 2 and event["args"] == digest({"id": "pay_1"})
    assert "pay_1" not in json.dumps(event)


def test_the_worker_seals_when_keys_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_CODEC_KEYS", "k1:" + "A" * 44)
    try:
        configure_logging("json", "INFO")
        assert seal in structlog.get_config()["processors"]
        configure_logging("json", "DEBUG")
        assert seal not in structlog.get_config()["processors"]
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers = []
