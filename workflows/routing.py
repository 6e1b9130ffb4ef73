"""Routing in code: every proposed tool call is checked before any activity is scheduled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import AgentError, InvalidInputError
from core.models import ToolCall
from core.toolspec import ToolRegistry, ToolSpec


@dataclass(frozen=True)
class RoutedCall:
    """A call ready to run (`spec` set, args validated) or refused (`error` set)."""

    call: ToolCall
    spec: ToolSpec | None = None
    args: dict[str, Any] | None = None
    error: AgentError | None = None

    @property
    def needs_approval(self) -> bool:
        return self.spec is not None and self.spec.irreversible


def renumber(calls: tuple[ToolCall, ...], turn: int) -> tuple[ToolCall, ...]:
    """Give calls deterministic, typeable ids (`t<turn>-<n>`), unique within a run."""
    return tuple(call.model_copy(update={"id": f"t{turn}-{n}"}) for n, call in enumerate(calls, start=1))


def route(call: ToolCall, registry: ToolRegistry) -> RoutedCall:
    try:
        spec = registry.get(call.name)
        if call.arguments_error is not None:
            raise InvalidInputError(
                f"arguments for {call.name} are not a JSON object", details={"error": call.arguments_error}
            )
        parsed = spec.validate(call.arguments)
    except AgentError as err:
        return RoutedCall(call=call, error=err)
    # The canonical, validated arguments are what runs, what is hashed and what is approved.
    return RoutedCall(call=call, spec=spec, args=parsed.model_dump(mode="json"))
