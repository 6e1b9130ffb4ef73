"""Model calls through our path: the `llm.complete` activity, its provider, HTTP and the chat template.

The provider streams (`on_text`), so the time to the first piece of text is seen where a client of the
activity would see it. A tee on the HTTP transport keeps llama.cpp's own `timings` of the same call, so
each of our figures can be set beside the server's work for exactly that request.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from temporalio.testing import ActivityEnvironment

from activities.llm.activity import LlmActivities
from activities.llm.openai_provider import OpenAIProvider
from agents.merchant_support import AGENT as DEMO
from bench.model_limits import Timings
from core.agent import Agent
from core.models import ChatMessage, LlmRequest, LlmResponse, ModelSettings


class _Tee(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, sink: bytearray) -> None:
        self.inner, self.sink = inner, sink

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            self.sink.extend(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class TeeTransport(httpx.AsyncHTTPTransport):
    """Keeps the body of the last response it served (SSE or JSON) for its llama.cpp timings."""

    def __init__(self) -> None:
        super().__init__()
        self.last = bytearray()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        self.last = bytearray()
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Tee(response.stream, self.last)
        return response

    def timings(self) -> Timings:
        """The `timings` object of the last reply (the final SSE chunk carries it)."""
        text = self.last.decode(errors="replace")
        for line in reversed(text.splitlines()):
            payload = line.removeprefix("data:").strip()
            if '"timings"' in payload:
                return Timings.of(httpx.Response(200, content=payload).json())
        raise ValueError("the reply carried no llama.cpp timings")


@dataclass(frozen=True)
class Call:
    """One activity call as a client sees it, and what llama.cpp did for it."""

    wall_s: float
    ttft_s: float
    reply: LlmResponse
    server: Timings

    @property
    def gen_tps(self) -> float:
        """Tokens after the first, over the time after the first: the rate the client receives."""
        tail = self.wall_s - self.ttft_s
        return (self.reply.usage.completion_tokens - 1) / tail if tail > 0 else 0.0

    @property
    def prompt_tps(self) -> float:
        """Prompt tokens llama.cpp had to process, over the time until the first text arrived."""
        return self.server.prompt_n / self.ttft_s if self.ttft_s else 0.0


class _FirstText:
    def __init__(self, provider: OpenAIProvider) -> None:
        self.provider = provider
        self.first: float | None = None

    async def complete(self, req: LlmRequest) -> LlmResponse:
        self.first = None

        def seen(_: str) -> None:
            if self.first is None:
                self.first = time.monotonic()

        return await self.provider.complete(req, on_text=seen)


class Caller:
    """Calls `llm.complete` in an ActivityEnvironment, as the worker would run it."""

    def __init__(self, base_url: str, model: str) -> None:
        self.transport = TeeTransport()
        self.provider = OpenAIProvider(base_url, default_model=model, transport=self.transport)
        self.probe = _FirstText(self.provider)
        self.activities = LlmActivities(self.probe, {DEMO.name: DEMO})

    async def call(self, req: LlmRequest) -> Call:
        started = time.monotonic()
        reply: LlmResponse = await ActivityEnvironment().run(self.activities.complete, req)
        wall = time.monotonic() - started
        first = self.probe.first
        ttft = (first - started) if first is not None else wall
        return Call(wall, ttft, reply, self.transport.timings())

    async def aclose(self) -> None:
        await self.provider.aclose()


def first_turn(task: str, agent: Agent[Any] = DEMO) -> LlmRequest:
    """A run's first model call as AgentWorkflow sends it: system prompt and tools by reference."""
    return LlmRequest(
        workflow_id="bench-model",
        turn=1,
        prompt_version=agent.instructions.current,
        agent=agent.name,
        tools_of_agent=True,
        system_by_version=True,
        messages=(ChatMessage(role="user", content=agent.instructions.task_template.format(task=task)),),
    )


def free_text(text: str, max_tokens: int, **settings: Any) -> LlmRequest:
    """A call without tools, for the generation and prompt figures."""
    return LlmRequest(
        workflow_id="bench-model",
        turn=1,
        prompt_version="bench",
        settings=ModelSettings(max_output_tokens=max_tokens, **settings),
        messages=(ChatMessage(role="user", content=text),),
    )
