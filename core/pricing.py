"""Versioned price table: USD per million tokens, so every run's cost is reproducible from its history."""

from __future__ import annotations

from dataclasses import dataclass

from core.models import TokenUsage

# Bump when any price changes; results record which table priced them.
PRICE_TABLE_VERSION = "2026-11"


@dataclass(frozen=True)
class ModelPrice:
    input_per_mtok: float
    output_per_mtok: float


PRICES: dict[str, ModelPrice] = {
    "qwen2.5-coder-1.5b-instruct-q4_k_m": ModelPrice(0.0, 0.0),
    "scripted": ModelPrice(0.0, 0.0),
    "gpt-4o-mini": ModelPrice(0.15, 0.60),
    "gpt-4o": ModelPrice(2.50, 10.00),
    "gpt-4.1-mini": ModelPrice(0.40, 1.60),
}


def _lookup(model: str) -> ModelPrice | None:
    # Providers often answer with a dated or path-qualified name ("gpt-4o-mini-2024-07-18", "x/model.gguf").
    name = model.rsplit("/", 1)[-1].removesuffix(".gguf").lower()
    if name in PRICES:
        return PRICES[name]
    for known in sorted(PRICES, key=len, reverse=True):
        if name.startswith(known + "-"):
            return PRICES[known]
    return None


def is_priced(model: str) -> bool:
    return _lookup(model) is not None


def cost_usd(model: str, usage: TokenUsage) -> float:
    """Cost of one call; an unknown model costs 0.0 for now (see `is_priced`)."""
    price = _lookup(model)
    if price is None:
        return 0.0
    cost = usage.prompt_tokens * price.input_per_mtok + usage.completion_tokens * price.output_per_mtok
    return round(cost / 1_000_000, 10)


# ── what run budgets need: an explicit price, never a silent zero ───────────

# Used to estimate a call before the served model is known (e.g. ModelSettings.model is None).
CEILING_PRICE = ModelPrice(
    max(p.input_per_mtok for p in PRICES.values()), max(p.output_per_mtok for p in PRICES.values())
)


def price_of(model: str) -> ModelPrice | None:
    """The table's price for a model name as providers spell it, or None when unknown."""
    return _lookup(model)


def cost_at(price: ModelPrice, usage: TokenUsage) -> float:
    """Cost of one call at an explicit price (the same rounding as `cost_usd`)."""
    cost = usage.prompt_tokens * price.input_per_mtok + usage.completion_tokens * price.output_per_mtok
    return round(cost / 1_000_000, 10)
