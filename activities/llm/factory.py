"""Build the provider named by LLM_PROVIDER; the local one also owns the embedded model server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from activities.llm.local_model import MODEL_NAME, LocalModelServer, ensure_model_file
from activities.llm.openai_provider import OpenAIProvider
from activities.llm.prices import PriceBook
from activities.llm.scripted import ScriptBook, ScriptedTransport
from core.config import ConfigError, Settings

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
SCRIPTED_BASE_URL = "http://scripted.invalid/v1"  # never resolved: the transport answers in-process


def price_book(settings: Settings) -> PriceBook:
    """The prices of the worker's provider; `require_default()` refuses a model nobody can price."""
    if settings.llm_provider == "scripted":
        return PriceBook("scripted")
    if settings.llm_provider == "local":
        return PriceBook(MODEL_NAME)
    model = settings.llm_model or DEFAULT_OPENAI_MODEL
    return PriceBook(model, explicit=settings.llm_price, base_url=settings.llm_base_url)


def build_provider(
    settings: Settings, *, script_book: ScriptBook | None = None, local_base_url: str | None = None
) -> OpenAIProvider:
    """A provider for `openai` or `scripted`; `local` needs a running server (see `open_provider`)."""
    if settings.llm_provider == "scripted":
        book = script_book or ScriptBook({})
        return OpenAIProvider(SCRIPTED_BASE_URL, default_model="scripted", transport=ScriptedTransport(book))
    if settings.llm_provider == "openai":
        if not settings.llm_base_url:
            raise ConfigError("LLM_PROVIDER=openai needs LLM_BASE_URL")
        model = settings.llm_model or DEFAULT_OPENAI_MODEL
        prices = PriceBook(model, explicit=settings.llm_price, base_url=settings.llm_base_url)
        prices.require_default()  # a model nobody can price stops the worker here, before it polls
        return OpenAIProvider(
            settings.llm_base_url, api_key=settings.llm_api_key, default_model=model, prices=prices
        )
    if local_base_url is None:
        raise ConfigError("LLM_PROVIDER=local: start the model with open_provider(settings)")
    return OpenAIProvider(local_base_url, default_model=MODEL_NAME)


async def start_local_server(settings: Settings, *, ready_timeout_s: float = 180.0) -> LocalModelServer:
    """Assemble/verify the model file and start llama.cpp's server; blocking steps run in a thread."""
    model_path = await asyncio.to_thread(ensure_model_file, settings.data_dir)
    server = LocalModelServer(model_path)
    await asyncio.to_thread(server.start)
    try:
        await server.wait_ready(ready_timeout_s)
    except BaseException:
        server.close()
        raise
    return server


@asynccontextmanager
async def open_provider(
    settings: Settings, *, script_book: ScriptBook | None = None
) -> AsyncIterator[OpenAIProvider]:
    """The worker's provider for its whole life; closes the HTTP client and any local server on exit."""
    server = await start_local_server(settings) if settings.llm_provider == "local" else None
    try:
        provider = build_provider(
            settings, script_book=script_book, local_base_url=server.base_url if server else None
        )
        try:
            yield provider
        finally:
            await provider.aclose()
    finally:
        if server is not None:
            server.close()
