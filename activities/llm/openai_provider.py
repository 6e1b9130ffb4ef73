"""OpenAI-compatible chat completions over httpx: request building, reply parsing, streaming.

Used for hosted models, the embedded local model and the scripted model alike (the latter two through
a different base URL or transport), so all three share one code path. No retries here: Temporal owns them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from pydantic_core import from_json, to_json

from activities.llm.http_errors import classify_response, classify_transport_error, stream_error
from activities.llm.parsing import parse_arguments, parse_tool_calls
from activities.llm.prices import PriceBook
from activities.llm.streaming import fold
from core.errors import ContentFilteredError, InvalidInputError, TransientError
from core.models import ChatMessage, LlmRequest, LlmResponse, PriceQuote, TokenUsage, ToolCall
from core.pricing import cost_at

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=120.0, write=30.0, pool=5.0)
# A prefill reads a whole prefix with nothing cached, before any run waits on it: on 2 busy cores that
# can take longer than a turn may.
PREFILL_TIMEOUT = httpx.Timeout(connect=5.0, read=900.0, write=30.0, pool=5.0)


class OpenAIProvider:
    """One provider endpoint; `transport` is the seam for MockTransport and the scripted model."""

    def __init__(
        self,
        base_url: str,
        *,
        default_model: str,
        api_key: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        prices: PriceBook | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Parsed once: httpx parses a str URL on every request (~15 µs, a tenth of a scripted call).
        self._completions_url = httpx.URL(f"{self.base_url}/chat/completions")
        self.default_model = default_model
        self.prices = prices or PriceBook(default_model, base_url=self.base_url)
        # Every request is a JSON body this class encodes itself (see complete), so httpx cannot type it.
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._secret = api_key or None
        self._client = httpx.AsyncClient(transport=transport, timeout=timeout, headers=headers)

    def __repr__(self) -> str:  # the key lives in the client's headers; never show it
        return f"OpenAIProvider(base_url={self.base_url!r}, default_model={self.default_model!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def complete(self, req: LlmRequest, *, on_text: Callable[[str], None] | None = None) -> LlmResponse:
        """One completion; with `on_text`, streamed, and each piece of content passed on as it arrives."""
        model = req.settings.model or self.default_model
        price = self._price(req, model)
        body = build_request_body(req, model)
        if on_text is not None:
            return await self._streamed(req, body, model, price, on_text)
        started = time.monotonic()
        data = await self._post(body)
        latency_ms = (time.monotonic() - started) * 1000
        return parse_completion(data, req, model=model, latency_ms=latency_ms, price=price)

    async def prefill(self, req: LlmRequest) -> LlmResponse:
        """Process the request's prompt and write a single token: a llama.cpp server keeps the prompt in
        its prefix cache, so the next request that starts the same way skips that work (warmup.py)."""
        model = req.settings.model or self.default_model
        price = self._price(req, model)
        started = time.monotonic()
        data = await self._post({**build_request_body(req, model), "max_tokens": 1}, PREFILL_TIMEOUT)
        latency_ms = (time.monotonic() - started) * 1000
        return parse_completion(data, req, model=model, latency_ms=latency_ms, price=price)

    def _price(self, req: LlmRequest, model: str) -> PriceQuote:
        price = req.price or self.prices.quote(model)
        if price is None:
            # Refused before the call: a reply nobody can price would make the run's cost a silent zero.
            raise InvalidInputError(
                f"model {model!r} has no price on this worker; ask for {self.default_model!r} or give "
                "the run budgets.price",
                details={"model": model},
            )
        return price

    async def _post(self, body: dict[str, Any], limits: httpx.Timeout | None = None) -> Any:
        try:
            # pydantic_core's encoder and parser: about half the CPU of json.dumps/json.loads on a
            # 5 KB prompt, paid on every model call.
            response = await self._client.post(
                self._completions_url, content=to_json(body), timeout=limits or httpx.USE_CLIENT_DEFAULT
            )
        except httpx.TransportError as exc:
            raise classify_transport_error(exc, self.base_url) from None
        if response.status_code != 200:
            raise classify_response(response, self.base_url, self._secret)
        try:
            return from_json(response.content)
        except ValueError:
            # Not JSON at all: a proxy or a half-started server answered; worth another attempt.
            raise TransientError(f"provider at {self.base_url} returned a non-JSON body (HTTP 200)") from None

    async def _streamed(
        self,
        req: LlmRequest,
        body: dict[str, Any],
        model: str,
        price: PriceQuote,
        on_text: Callable[[str], None],
    ) -> LlmResponse:
        body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        started = time.monotonic()
        try:
            async with self._client.stream("POST", self._completions_url, content=to_json(body)) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise classify_response(response, self.base_url, self._secret)
                if "text/event-stream" not in response.headers.get("content-type", ""):
                    # A server that does not stream answers whole: the text arrives in one piece.
                    await response.aread()
                    return self._whole(response, req, model, price, started, on_text)
                folded = await fold(response.aiter_lines(), on_text)
        except httpx.TransportError as exc:
            raise classify_transport_error(exc, self.base_url) from None
        if folded.error is not None:
            raise stream_error(folded.error, self.base_url, self._secret)
        if not folded.complete:
            raise TransientError(f"LLM provider at {self.base_url} ended the stream before the reply's end")
        latency_ms = (time.monotonic() - started) * 1000
        reply = parse_completion(folded.body, req, model=model, latency_ms=latency_ms, price=price)
        if folded.broken_chunk is not None:
            # Part of the reply is lost: no call in it can be trusted, and the model is asked again.
            return reply.model_copy(update={"tool_calls": (), "parse_error": folded.broken_chunk})
        return reply

    def _whole(
        self,
        response: httpx.Response,
        req: LlmRequest,
        model: str,
        price: PriceQuote,
        started: float,
        on_text: Callable[[str], None],
    ) -> LlmResponse:
        try:
            data = from_json(response.content)
        except ValueError:
            raise TransientError(f"provider at {self.base_url} returned a non-JSON body (HTTP 200)") from None
        latency_ms = (time.monotonic() - started) * 1000
        reply = parse_completion(data, req, model=model, latency_ms=latency_ms, price=price)
        if reply.content:
            on_text(reply.content)
        return reply


def build_request_body(req: LlmRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [_message(m) for m in req.messages],
        "temperature": req.settings.temperature,
        "max_tokens": req.settings.max_output_tokens,
        "seed": req.settings.seed,
    }
    if req.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
            }
            for t in req.tools
        ]
    return body


def _message(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.role == "assistant" and message.tool_calls:
        # OpenAI's canonical shape: null content beside tool_calls, arguments as a JSON string.
        out["content"] = message.content or None
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments, sort_keys=True)},
            }
            for call in message.tool_calls
        ]
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id or ""
    if message.name and message.role == "tool":
        out["name"] = message.name
    return out


def parse_completion(
    data: Any, req: LlmRequest, *, model: str, latency_ms: float, price: PriceQuote
) -> LlmResponse:
    """Turn a 200 body into an LlmResponse; a malformed body becomes `parse_error`, not an exception."""
    served_model = str(data.get("model") or model) if isinstance(data, dict) else model
    choice = _first_choice(data)
    if choice is None:
        usage = _usage(data, req, "")
        return LlmResponse(
            model=served_model,
            usage=usage,
            latency_ms=latency_ms,
            cost_usd=cost_at(price, usage),
            price=price,
            parse_error="provider response had no choices",
        )
    raw_message = choice.get("message")
    message: dict[str, Any] = raw_message if isinstance(raw_message, dict) else {}
    finish_reason = choice.get("finish_reason")
    if finish_reason == "content_filter":
        raise ContentFilteredError("the provider filtered the completion (finish_reason=content_filter)")
    raw_content = message.get("content")
    content = raw_content if isinstance(raw_content, str) else ""
    native = message.get("tool_calls")
    if isinstance(native, list) and native:
        calls, parse_error = _native_calls(native)
    else:
        content, calls, parse_error = parse_tool_calls(content, [t.name for t in req.tools])
    usage = _usage(data, req, content + "".join(json.dumps(c.arguments) for c in calls))
    return LlmResponse(
        content=content,
        tool_calls=tuple(calls),
        usage=usage,
        model=served_model,
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        parse_error=parse_error,
        latency_ms=latency_ms,
        cost_usd=cost_at(price, usage),
        price=price,
    )


def _first_choice(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        return None
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    return choices[0]


def _native_calls(native: list[Any]) -> tuple[list[ToolCall], str | None]:
    calls: list[ToolCall] = []
    for item in native:
        function = item.get("function") if isinstance(item, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            return [], "a native tool call had no function name"
        arguments, error = parse_arguments(function.get("arguments") if isinstance(function, dict) else None)
        calls.append(ToolCall(id=f"call_{len(calls)}", name=name, arguments=arguments, arguments_error=error))
    return calls, None


def _usage(data: Any, req: LlmRequest, reply_text: str) -> TokenUsage:
    """The server's counts when given; else a deterministic estimate (4 chars per token)."""
    usage = data.get("usage") if isinstance(data, dict) else None
    if isinstance(usage, dict):
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if isinstance(prompt, int) and isinstance(completion, int) and prompt >= 0 and completion >= 0:
            return TokenUsage(prompt_tokens=prompt, completion_tokens=completion)
    return TokenUsage(prompt_tokens=estimate_prompt_tokens(req), completion_tokens=len(reply_text) // 4)


def estimate_prompt_tokens(req: LlmRequest) -> int:
    chars = sum(
        len(m.content) + sum(len(json.dumps(c.arguments)) for c in m.tool_calls) for m in req.messages
    )
    return chars // 4
