"""Signal payloads arrive as raw JSON: parse them here so a bad one is audited, never a crash."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)
MAX_REASON_CHARS = 300


def parse(model: type[T], payload: Any) -> tuple[T | None, str | None]:
    """(model, None) for a valid payload, else (None, a short reason fit for the audit trail)."""
    try:
        return model.model_validate(payload), None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(payload)'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        return None, f"invalid {model.__name__}: {problems}"[:MAX_REASON_CHARS]


def field(payload: Any, name: str) -> str | None:
    """A short string field of a raw payload, for auditing payloads that failed validation."""
    value = payload.get(name) if isinstance(payload, dict) else None
    return str(value)[:128] if value is not None else None
