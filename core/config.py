"""Deployment settings from the environment (docs/architecture.md); read by the worker, CLI, activities."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from core.pricing import ModelPrice, parse_price

DEFAULT_TASK_QUEUE = "agent-tasks"
ProviderName = Literal["local", "openai", "scripted"]
PROVIDERS: tuple[ProviderName, ...] = ("local", "openai", "scripted")


class ConfigError(ValueError):
    """A setting is missing or malformed; raised at start, before any run is touched."""


@dataclass(frozen=True)
class Settings:
    temporal_address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = DEFAULT_TASK_QUEUE
    llm_provider: ProviderName = "local"
    llm_base_url: str | None = None
    llm_api_key: str | None = field(default=None, repr=False)
    llm_model: str | None = None
    # LLM_PRICE=INPUT/OUTPUT (USD per million tokens) for a model no price list knows.
    llm_price: ModelPrice | None = None
    data_dir: Path = Path(".data")
    ui_url: str = "http://localhost:8233"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        provider = env.get("LLM_PROVIDER", "local")
        if provider not in PROVIDERS:
            raise ConfigError(f"LLM_PROVIDER={provider!r}: expected one of {', '.join(PROVIDERS)}")
        if provider == "openai" and not env.get("LLM_BASE_URL"):
            raise ConfigError("LLM_PROVIDER=openai needs LLM_BASE_URL (and usually LLM_API_KEY)")
        try:
            price = parse_price(env["LLM_PRICE"]) if env.get("LLM_PRICE", "").strip() else None
        except ValueError as exc:
            raise ConfigError(f"LLM_PRICE={exc}") from None
        return cls(
            temporal_address=env.get("TEMPORAL_ADDRESS", cls.temporal_address),
            namespace=env.get("TEMPORAL_NAMESPACE", cls.namespace),
            task_queue=env.get("AGENT_TASK_QUEUE", cls.task_queue),
            llm_provider=cast(ProviderName, provider),
            llm_base_url=env.get("LLM_BASE_URL") or None,
            llm_api_key=env.get("LLM_API_KEY") or None,
            llm_model=env.get("LLM_MODEL") or None,
            llm_price=price,
            data_dir=Path(env.get("AGENT_DATA_DIR", ".data")),
            ui_url=env.get("TEMPORAL_UI_URL", cls.ui_url),
        )
