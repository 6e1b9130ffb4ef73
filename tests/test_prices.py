"""Prices are the worker's decision, travel with every reply, and a model nobody can price never runs."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from activities.llm.openai_provider import OpenAIProvider
from activities.llm.prices import PriceBook
from core.config import ConfigError, Settings
from core.errors import InvalidInputError
from core.models import ChatMessage, LlmRequest
from core.pricing import ModelPrice, parse_price

REQUEST = LlmRequest(
    workflow_id="wf", turn=1, messages=(ChatMessage(role="user", content="hi"),), prompt_version="v"
)


@pytest.mark.parametrize("text", ["abc", "1", "1/2/3", "-1/2", "nan/1", "inf/1", "2000/1", "/", " "])
def test_a_malformed_price_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match="INPUT/OUTPUT in USD per million tokens"):
        parse_price(text)


def test_a_malformed_price_setting_stops_at_start_naming_the_setting() -> None:
    assert Settings.from_env({"LLM_PRICE": " 0.2/0.8 "}).llm_price == ModelPrice(0.2, 0.8)
    with pytest.raises(ConfigError, match=r"^LLM_PRICE='cheap': expected INPUT/OUTPUT"):
        Settings.from_env({"LLM_PRICE": "cheap"})


def test_where_each_price_comes_from() -> None:
    book = PriceBook("acme-hosted-7b", explicit=ModelPrice(0.2, 0.8))
    assert book.quote("acme-hosted-7b").source == "LLM_PRICE"  # type: ignore[union-attr]
    assert book.quote("scripted").source.startswith("table ")  # type: ignore[union-attr]
    hosted = book.quote("claude-3-5-haiku-latest")  # no code edit: the catalogue knows it
    assert hosted is not None and hosted.source.startswith("genai-prices ") and hosted.input_per_mtok > 0
    dated = book.quote("gpt-4o-mini-2024-07-18")
    assert dated is not None and (dated.input_per_mtok, dated.output_per_mtok) == (0.15, 0.6)
    assert book.quote("acme-other-3b") is None  # the explicit price is for the default model only


def test_a_default_model_nobody_can_price_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"LLM_MODEL='acme-hosted-7b' has no known price.*LLM_PRICE="):
        PriceBook("acme-hosted-7b").require_default()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "worker: LLM_MODEL='acme-hosted-7b' has no known price"),
        ({"LLM_PRICE": "0,2"}, "worker: LLM_PRICE='0,2': expected INPUT/OUTPUT"),
    ],
)
def test_the_worker_refuses_to_start_in_one_line_before_it_connects(
    extra: dict[str, str], expected: str
) -> None:
    env = {
        **os.environ,
        "LLM_PROVIDER": "openai",
        "LLM_BASE_URL": "http://127.0.0.1:9/v1",
        "LLM_MODEL": "acme-hosted-7b",
        "TEMPORAL_ADDRESS": "127.0.0.1:1",  # unreachable: the refusal must come first
        **extra,
    }
    if not extra:
        env.pop("LLM_PRICE", None)
    done = subprocess.run(
        [sys.executable, "worker.py"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), done.stderr


def _answering(model: str) -> httpx.MockTransport:
    body = {
        "model": model,
        "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 500},
    }
    return httpx.MockTransport(lambda r: httpx.Response(200, json=body))


async def test_each_reply_carries_the_price_it_was_charged() -> None:
    book = PriceBook("acme-hosted-7b", explicit=ModelPrice(0.2, 0.8))
    provider = OpenAIProvider(
        "http://acme.test/v1", default_model="acme-hosted-7b", prices=book, transport=_answering("acme-7b-v2")
    )
    reply = await provider.complete(REQUEST)
    assert reply.price is not None and reply.price.source == "LLM_PRICE"
    assert reply.cost_usd == pytest.approx((1000 * 0.2 + 500 * 0.8) / 1e6)


async def test_a_model_nobody_can_price_is_refused_before_any_request() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    provider = OpenAIProvider(
        "http://acme.test/v1", default_model="scripted", transport=httpx.MockTransport(handler)
    )
    unpriced = REQUEST.model_copy(
        update={"settings": REQUEST.settings.model_copy(update={"model": "acme-9"})}
    )
    with pytest.raises(InvalidInputError, match="'acme-9' has no price"):
        await provider.complete(unpriced)
    assert sent == []
