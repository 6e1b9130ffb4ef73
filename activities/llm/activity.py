"""The `llm.complete` activity: one model call, every failure converted to one error class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from pydantic_core import to_json
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeat import heartbeating
from activities.interceptors import log_request
from activities.llm.expand import expanded
from activities.llm.live import OnText, text_sink
from activities.llm.openai_provider import OpenAIProvider
from activities.llm.registry import LlmProvider, ModelRegistry
from activities.ratelimit import FleetLimiter, charged_tokens
from core.agent import Agent
from core.errors import AgentError, PayloadTooLargeError, RateLimitedError, TransientError
from core.models import LlmRequest, LlmResponse

log = structlog.get_logger(__name__)

# The largest reply the loop carries on, in characters: more is refused whole (never kept in history)
# and the model is told, as a typed InvalidInputError, to answer briefly. A useful answer or tool call
# is a few hundred characters; the limits leave a wide margin.
MAX_REPLY_CHARS = 16_000
MAX_ARGUMENTS_CHARS = 8_000  # bytes of the JSON of one tool call's arguments
MAX_TOOL_CALLS = 32  # calls in one reply
# Temporal rejects payloads over 2 MB; truncation keeps replies far below, this is the last line.
MAX_PAYLOAD_BYTES = 1_500_000
# An unclassified crash is probably a bug: one retry covers a blip, more would only repeat the bug.
UNCLASSIFIED_MAX_ATTEMPTS = 2


class LlmActivities:
    """The worker's models and agents; registered under the stable name `llm.complete`."""

    def __init__(
        self,
        models: ModelRegistry | LlmProvider,
        agents: Mapping[str, Agent[Any]] | None = None,
        limiter: FleetLimiter | None = None,
    ) -> None:
        self.models = models if isinstance(models, ModelRegistry) else ModelRegistry.single(models)
        self.agents = agents or {}  # whose prompts a request may name by reference
        self.limiter = limiter  # the fleet's rate limits, by model name (activities/ratelimit.py)

    @activity.defn(name="llm.complete")
    async def complete(self, req: LlmRequest) -> LlmResponse:
        attempt = activity.info().attempt if activity.in_activity() else 1
        try:
            provider, routed = self.models.route(expanded(req, self.agents))
            log_request(routed, req.settings.model or self.models.default)
            async with text_sink(req) as sink:
                response = await heartbeating(self._call(provider, routed, req, sink))
                if sink is not None and oversized(response) is None:  # a refused reply's text is signalled
                    response = response.model_copy(update={"live_tail": sink.tail()})
        except AgentError as err:
            log.warning("llm.error", workflow_id=req.workflow_id, turn=req.turn, error_type=err.type_name)
            raise err.to_application_error() from err
        except Exception as exc:
            # A bug or an unforeseen library error: retry it once and make it visible.
            log.error(
                "llm.unclassified",
                classification="unclassified",
                workflow_id=req.workflow_id,
                turn=req.turn,
                error_type=type(exc).__name__,
                error=str(exc)[:500],
            )
            raise unclassified(exc, attempt) from exc
        response = checked(bounded(response))
        return response

    async def _call(
        self, provider: LlmProvider, routed: LlmRequest, req: LlmRequest, on_text: OnText | None
    ) -> LlmResponse:
        """The provider call, after this attempt's lease when the model has a fleet-wide limit."""
        key = req.settings.model or self.models.default
        limiter = self.limiter
        if limiter is None or limiter.limit_of(key) is None:
            return await _ask(provider, routed, on_text)
        holder = f"{req.workflow_id}:{req.turn}"
        await limiter.lease(key, holder, charged_tokens(routed), req.workflow_id)
        try:
            return await _ask(provider, routed, on_text)
        except RateLimitedError as err:
            wait = err.retry_after.total_seconds() if err.retry_after else 1.0
            await limiter.hold(key, wait, holder)
            raise


async def _ask(provider: LlmProvider, routed: LlmRequest, on_text: OnText | None) -> LlmResponse:
    """Streamed when the run shows the text live and the provider can stream (OpenAI-compatible)."""
    if on_text is not None and isinstance(provider, OpenAIProvider):
        return await provider.complete(routed, on_text=on_text)
    return await provider.complete(routed)


def bounded(response: LlmResponse) -> LlmResponse:
    """The reply, or a refusal of it that keeps none of its text when it is larger than the loop carries."""
    too_long = oversized(response)
    if too_long is None:
        return response
    log.warning("llm.reply_rejected", reason=too_long)
    return LlmResponse(
        usage=response.usage,
        model=response.model,
        finish_reason=response.finish_reason,
        latency_ms=response.latency_ms,
        cost_usd=response.cost_usd,
        price=response.price,
        rejected=too_long,
    )


def oversized(response: LlmResponse) -> str | None:
    """Why a reply is too large to carry on, or None."""
    if len(response.content) > MAX_REPLY_CHARS:
        return f"the reply has {len(response.content)} characters; at most {MAX_REPLY_CHARS} are accepted"
    if len(response.tool_calls) > MAX_TOOL_CALLS:
        return (
            f"the reply asks for {len(response.tool_calls)} tool calls; at most {MAX_TOOL_CALLS} are accepted"
        )
    for call in response.tool_calls:
        size = len(to_json(call.arguments))
        if size > MAX_ARGUMENTS_CHARS:
            return (
                f"the arguments of {call.name} are {size} bytes of JSON; at most "
                f"{MAX_ARGUMENTS_CHARS} are accepted"
            )
    return None


def unclassified(exc: Exception, attempt: int) -> ApplicationError:
    """A TransientError, made final at UNCLASSIFIED_MAX_ATTEMPTS so a deterministic bug cannot loop."""
    message = f"unclassified {type(exc).__name__} in llm.complete"
    if attempt < UNCLASSIFIED_MAX_ATTEMPTS:
        return TransientError(message).to_application_error()
    return ApplicationError(
        f"{message} (unclassified failure, gave up after {attempt} attempts)",
        {"classification": "unclassified"},
        type=TransientError.__name__,
        non_retryable=True,
    )


def checked(response: LlmResponse) -> LlmResponse:
    """Refuse a reply that is still too large (e.g. huge tool-call arguments) with a final error."""
    size = len(response.model_dump_json().encode())
    if size > MAX_PAYLOAD_BYTES:
        log.error("llm.payload_too_large", bytes=size, limit=MAX_PAYLOAD_BYTES)
        raise PayloadTooLargeError(
            f"model reply of {size} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte payload limit",
            details={"bytes": size, "limit": MAX_PAYLOAD_BYTES},
        ).to_application_error()
    return response
