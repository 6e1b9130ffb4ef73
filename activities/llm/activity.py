"""The `llm.complete` activity: one model call, every failure converted to one error class."""

from __future__ import annotations

from typing import Protocol

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.llm.expand import expanded
from core.errors import AgentError, PayloadTooLargeError, TransientError
from core.models import LlmRequest, LlmResponse

log = structlog.get_logger(__name__)

# Far below Temporal's 2 MB payload limit, and far above any useful single reply.
MAX_CONTENT_BYTES = 32 * 1024
# Temporal rejects payloads over 2 MB; truncation keeps replies far below, this is the last line.
MAX_PAYLOAD_BYTES = 1_500_000
# An unclassified crash is probably a bug: one retry covers a blip, more would only repeat the bug.
UNCLASSIFIED_MAX_ATTEMPTS = 2


class LlmProvider(Protocol):
    async def complete(self, req: LlmRequest) -> LlmResponse: ...


class LlmActivities:
    """Holds one provider; the worker registers `complete` under the stable name `llm.complete`."""

    def __init__(self, provider: LlmProvider, *, max_content_bytes: int = MAX_CONTENT_BYTES) -> None:
        self.provider = provider
        self.max_content_bytes = max_content_bytes

    @activity.defn(name="llm.complete")
    async def complete(self, req: LlmRequest) -> LlmResponse:
        attempt = activity.info().attempt if activity.in_activity() else 1
        # llm.request / llm.response are logged by the activity interceptor, with full context.
        try:
            response = await self.provider.complete(expanded(req))
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
        response = checked(truncate_content(response, self.max_content_bytes))
        return response


def truncate_content(response: LlmResponse, max_bytes: int) -> LlmResponse:
    """Cut an oversized completion so the payload can never exceed Temporal's limits."""
    encoded = response.content.encode()
    if len(encoded) <= max_bytes:
        return response
    kept = encoded[:max_bytes].decode(errors="ignore")
    note = f"\n[truncated: {len(encoded) - len(kept.encode())} bytes of the reply omitted]"
    return response.model_copy(update={"content": kept + note})


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
