"""The worker's model registry from its settings: LLM_PROVIDER's model, plus AGENT_MODELS' endpoints."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from activities.llm.factory import open_provider
from activities.llm.openai_provider import OpenAIProvider
from activities.llm.prices import PriceBook
from activities.llm.registry import LlmProvider, ModelRegistry, ModelSpec, parse_models
from activities.llm.scripted import ScriptBook, StandIns
from core.agent import Agent
from core.config import ConfigError, Settings
from core.pricing import parse_price


def stand_ins(agents: Sequence[Agent[Any]]) -> StandIns:
    """The scripted model's fallback: each agent's stand-in, chosen by the tools a request offers."""
    return StandIns([(frozenset(a.registry.names()), a.stand_in) for a in agents if a.stand_in is not None])


def hosted(spec: ModelSpec, env: dict[str, str]) -> OpenAIProvider:
    key = env.get(spec.api_key_env) if spec.api_key_env else None
    if spec.api_key_env and not key:
        raise ConfigError(f"AGENT_MODELS entry {spec.name!r}: {spec.api_key_env} is not set")
    explicit = parse_price(spec.price) if spec.price else None
    prices = PriceBook(spec.model, explicit=explicit, base_url=spec.base_url)
    prices.require_default()
    return OpenAIProvider(spec.base_url, api_key=key, default_model=spec.model, prices=prices)


def extra_specs(env: dict[str, str] | None = None) -> list[ModelSpec]:
    env = dict(os.environ) if env is None else env
    text = env.get("AGENT_MODELS", "").strip()
    return parse_models(text) if text else []


@asynccontextmanager
async def open_models(
    settings: Settings, agents: Sequence[Agent[Any]], env: dict[str, str] | None = None
) -> AsyncIterator[ModelRegistry]:
    """Every model the worker serves, open for its whole life; closed (and any local server) on exit."""
    env = dict(os.environ) if env is None else env
    specs = extra_specs(env)  # malformed AGENT_MODELS stops the worker before any model starts
    async with AsyncExitStack() as stack:
        book = ScriptBook({}, fallback=stand_ins(agents))
        default = await stack.enter_async_context(open_provider(settings, script_book=book))
        providers: dict[str, LlmProvider] = {default.default_model: default}
        for spec in specs:
            if spec.name in providers:
                raise ConfigError(f"AGENT_MODELS: {spec.name!r} is already the worker's default model")
            provider = hosted(spec, env)
            stack.push_async_callback(provider.aclose)
            providers[spec.name] = provider
        yield ModelRegistry(default=default.default_model, providers=providers)
