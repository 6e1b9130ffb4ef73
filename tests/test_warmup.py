"""Prefix warm-up (issue 19): the warm request is a real first turn cut at the task; bad contexts refused."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from activities.llm.expand import expanded
from activities.llm.factory import open_provider
from activities.llm.llama_settings import LlamaSettings
from activities.llm.openai_provider import (
    DEFAULT_TIMEOUT,
    PREFILL_TIMEOUT,
    OpenAIProvider,
    build_request_body,
)
from activities.llm.scripted import ScriptedReply
from activities.llm.warmup import first_turn_prefix, served_prefixes, warm
from core.config import ConfigError, Settings
from core.errors import ContextOverflowError
from core.models import LlmRequest, LlmResponse, TokenUsage
from tests.conftest import DEMO, SHOP, Harness, scripted_provider

TASK = "Merchant MID001 says pay_ABC123 was charged twice; refund the duplicate."


class Recording:
    """Passes calls on to a scripted model and keeps each request as the provider received it."""

    def __init__(self, inner: OpenAIProvider) -> None:
        self.inner = inner
        self.seen: list[LlmRequest] = []

    async def complete(self, req: LlmRequest) -> LlmResponse:
        self.seen.append(req)
        return await self.inner.complete(req)


async def test_the_warm_request_is_the_workflows_first_turn_cut_where_the_task_begins(
    harness: Harness,
) -> None:
    provider = Recording(scripted_provider({TASK: [ScriptedReply(content="Nothing to refund.")]}))
    await harness.run(TASK, [], provider=provider)
    real = build_request_body(expanded(provider.seen[0], {DEMO.name: DEMO}), "m")
    warm_req, _ = served_prefixes([DEMO, SHOP])
    warmed = build_request_body(warm_req, "m")
    # Everything the chat template renders before the user's text is the same object, byte for byte.
    assert json.dumps(warmed["tools"]) == json.dumps(real["tools"])
    assert warmed["messages"][0] == real["messages"][0]
    assert [m["role"] for m in warmed["messages"]] == ["system", "user"]
    opening = warmed["messages"][1]["content"]
    assert opening and real["messages"][1]["content"].startswith(opening)
    assert (
        real["messages"][1]["content"]
        == opening + TASK + DEMO.instructions.task_template.partition("{task}")[2]
    )


def test_every_served_agent_gets_its_own_prefix() -> None:
    support, shop = served_prefixes([DEMO, SHOP])
    assert (support.agent, shop.agent) == (DEMO.name, SHOP.name)
    assert shop.messages[0].content == SHOP.instructions.text() and shop.tools == SHOP.schemas


class FakePrefiller:
    def __init__(self, tokens: int = 0, error: Exception | None = None) -> None:
        self.tokens, self.error = tokens, error
        self.seen: list[LlmRequest] = []

    async def prefill(self, req: LlmRequest) -> LlmResponse:
        self.seen.append(req)
        if self.error is not None:
            raise self.error
        return LlmResponse(usage=TokenUsage(prompt_tokens=self.tokens, completion_tokens=1))


async def test_warm_prefills_each_request_in_order_and_reports_its_tokens() -> None:
    a, b = first_turn_prefix(DEMO), first_turn_prefix(SHOP)
    fake = FakePrefiller(tokens=900)
    warmed = await warm(fake, [a, b], context_tokens=8192)
    assert fake.seen == [a, b]
    assert [(w.agent, w.prompt_tokens) for w in warmed] == [(DEMO.name, 900), (SHOP.name, 900)]


async def test_a_context_without_room_for_a_reply_after_the_prefix_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"context of 1024 tokens \(AGENT_LLAMA_CTX\) is too small: .* 900"):
        await warm(FakePrefiller(tokens=900), served_prefixes([DEMO]), context_tokens=1024)


async def test_a_prefix_the_server_cannot_hold_is_a_config_error() -> None:
    overflow = ContextOverflowError("request (1749 tokens) exceeds the available context size (512 tokens)")
    with pytest.raises(ConfigError, match=r"context of 512 tokens cannot hold the .* prompt"):
        await warm(FakePrefiller(error=overflow), served_prefixes([DEMO]), context_tokens=512)


async def test_prefill_asks_for_one_token_of_the_same_body() -> None:
    bodies: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        # A cold prefix may take minutes on a busy machine: longer than a turn's read timeout.
        assert request.extensions["timeout"] == PREFILL_TIMEOUT.as_dict() != DEFAULT_TIMEOUT.as_dict()
        return httpx.Response(
            200,
            json={
                "choices": [{"message": {"content": "x"}}],
                "usage": {"prompt_tokens": 1749, "completion_tokens": 1},
            },
        )

    provider = OpenAIProvider(
        "http://llm.test/v1", default_model="gpt-4o-mini", transport=httpx.MockTransport(answer)
    )
    (req,) = served_prefixes([DEMO])
    reply = await provider.prefill(req)
    assert reply.usage.prompt_tokens == 1749
    assert bodies[0] == {**json.loads(json.dumps(build_request_body(req, "gpt-4o-mini"))), "max_tokens": 1}


# ── on the real model ───────────────────────────────────────────────────────


@pytest.mark.local_model
@pytest.mark.skipif(os.environ.get("AGENT_SKIP_LOCAL_MODEL") == "1", reason="AGENT_SKIP_LOCAL_MODEL=1")
async def test_llama_cpp_refuses_a_context_too_small_for_the_prefix_as_a_config_error() -> None:
    settings = Settings(llm_provider="local", data_dir=Path(os.environ.get("AGENT_DATA_DIR", ".data")))
    with pytest.raises(ConfigError, match="context of 512 tokens cannot hold"):
        async with open_provider(
            settings, llama=LlamaSettings(n_ctx=512), warm_requests=served_prefixes([DEMO])
        ):
            pass
