"""Prices of model calls: USD per million tokens, and the arithmetic every cost goes through.

Which price a call is charged at is decided by the worker (activities/llm/prices.py: LLM_PRICE, this
table, then the genai-prices catalogue) and recorded with each reply (`LlmResponse.price`), so a run's
cost is reproducible from its history. This hand-kept table prices the free local and scripted models,
estimates a call before its reply names a price, and prices replies recorded before quotes existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from core.models import TokenUsage

# Bump when any price changes; quotes from this table name it.
PRICE_TABLE_VERSION = "2026-11"


class PerMillion(Protocol):
    @property
    def input_per_mtok(self) -> float: ...
    @property
    def output_per_mtok(self) -> float: ...


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


# Used to estimate a call before its reply names the price (e.g. ModelSettings.model is None).
CEILING_PRICE = ModelPrice(
    max(p.input_per_mtok for p in PRICES.values()), max(p.output_per_mtok for p in PRICES.values())
)


def price_of(model: str) -> ModelPrice | None:
    """The table's price for a model name as providers spell it, or None when unknown."""
    return _lookup(model)


def cost_at(price: PerMillion, usage: TokenUsage) -> float:
    """Cost of one call at an explicit price, rounded the same way everywhere."""
    cost = usage.prompt_tokens * price.input_per_mtok + usage.completion_tokens * price.output_per_mtok
    return round(cost / 1_000_000, 10)


def parse_price(text: str) -> ModelPrice:
    """`INPUT/OUTPUT` in USD per million tokens (e.g. `0.15/0.60`); ValueError says what is wrong."""
    parts = text.strip().split("/")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != 2 or any(not 0.0 <= v <= 1000.0 for v in values):
        raise ValueError(f"{text!r}: expected INPUT/OUTPUT in USD per million tokens, e.g. 0.15/0.60")
    return ModelPrice(values[0], values[1])
