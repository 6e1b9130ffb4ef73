"""Puts back the static part of a prompt that the workflow sent by reference (LlmRequest.toolset and
LlmRequest.system_by_version): the toolset's schemas and the system prompt of the request's version."""

from __future__ import annotations

from typing import Any

from activities.toolsets import SCHEMAS
from core.errors import InvalidInputError
from core.models import ChatMessage, LlmRequest
from workflows.prompts import SYSTEM_PROMPTS


def expanded(req: LlmRequest) -> LlmRequest:
    """The request as the provider must see it; InvalidInputError names a reference this worker lacks."""
    update: dict[str, Any] = {}
    if req.toolset is not None and not req.tools:
        schemas = SCHEMAS.get(req.toolset)
        if schemas is None:
            raise InvalidInputError(f"unknown toolset {req.toolset!r}: this worker offers {sorted(SCHEMAS)}")
        update["tools"] = schemas
    if req.system_by_version:
        text = SYSTEM_PROMPTS.get(req.prompt_version)
        if text is None:
            known = sorted(SYSTEM_PROMPTS)
            raise InvalidInputError(f"unknown prompt version {req.prompt_version!r}: this worker has {known}")
        update["messages"] = (ChatMessage(role="system", content=text), *req.messages)
        update["system_by_version"] = False
    return req.model_copy(update=update) if update else req
