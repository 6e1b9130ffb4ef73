"""The models a worker serves, by name: each an OpenAI-compatible provider with its own price list.

A run names a model (`ModelSettings.model`, or its agent's default), never an endpoint or a key:
those stay in the worker. A name the worker does not serve is refused before any call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from core.config import ConfigError
from core.errors import InvalidInputError
from core.llm import LlmRequest, LlmResponse
from core.pricing import parse_price


class LlmProvider(Protocol):
    async def complete(self, req: LlmRequest) -> LlmResponse: ...


@dataclass(frozen=True)
class ModelRegistry:
    default: str
    providers: Mapping[str, LlmProvider]

    def __post_init__(self) -> None:
        if self.default not in self.providers:
            raise ConfigError(f"the default model {self.default!r} is not among {sorted(self.providers)}")

    @classmethod
    def single(cls, provider: LlmProvider, name: str | None = None) -> ModelRegistry:
        label = name or str(getattr(provider, "default_model", "") or "default")
        return cls(default=label, providers={label: provider})

    def names(self) -> frozenset[str]:
        return frozenset(self.providers)

    def route(self, req: LlmRequest) -> tuple[LlmProvider, LlmRequest]:
        """The provider of the request's model, and the request as that provider must see it."""
        name = req.settings.model or self.default
        provider = self.providers.get(name)
        if provider is None:
            raise InvalidInputError(
                f"model {name!r} is not served by this worker (it serves {sorted(self.providers)})",
                details={"model": name},
            )
        # The provider knows its endpoint's own model id: the registry name stays worker-side.
        settings = req.settings.model_copy(update={"model": None})
        return provider, req.model_copy(update={"settings": settings})


@dataclass(frozen=True)
class ModelSpec:
    """One entry of AGENT_MODELS: an OpenAI-compatible endpoint under a name."""

    name: str
    base_url: str
    model: str
    api_key_env: str | None = None
    price: str | None = None


def parse_models(text: str) -> list[ModelSpec]:
    """AGENT_MODELS: a JSON list of {name, base_url, model, api_key_env?, price?}; ConfigError if not."""
    try:
        raw: Any = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"AGENT_MODELS is not JSON: {exc}") from None
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ConfigError("AGENT_MODELS must be a JSON list of objects")
    specs = [_spec(item) for item in raw]
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"AGENT_MODELS names a model twice: {names}")
    return specs


def _spec(item: Mapping[str, Any]) -> ModelSpec:
    unknown = set(item) - {"name", "base_url", "model", "api_key_env", "price"}
    missing = [k for k in ("name", "base_url", "model") if not isinstance(item.get(k), str) or not item[k]]
    if unknown or missing:
        raise ConfigError(f"AGENT_MODELS entry {item!r}: unknown {sorted(unknown)}, missing {missing}")
    if item.get("price") is not None:
        try:
            parse_price(str(item["price"]))
        except ValueError as exc:
            raise ConfigError(f"AGENT_MODELS entry {item['name']!r}: price {exc}") from None
    return ModelSpec(
        name=item["name"],
        base_url=item["base_url"],
        model=item["model"],
        api_key_env=item.get("api_key_env"),
        price=item.get("price"),
    )
