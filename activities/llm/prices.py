"""Which price a model call is charged at, decided by the worker and recorded with every reply.

In order: an explicit price (LLM_PRICE, for the worker's own model), the hand-kept table (the free
local and scripted models), then the genai-prices catalogue (thousands of hosted models, kept by
pydantic; read from the installed package, never fetched at run time). A model none of them knows
has no price: the worker refuses to start with it as its default, and a run that asks for it gets
a final InvalidInputError instead of a silent zero.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from core.config import ConfigError
from core.models import PriceQuote
from core.pricing import PRICE_TABLE_VERSION, ModelPrice, price_of

PRICE_SETTING = "LLM_PRICE"


def _quote(price: ModelPrice, source: str) -> PriceQuote:
    return PriceQuote(
        input_per_mtok=price.input_per_mtok, output_per_mtok=price.output_per_mtok, source=source
    )


@functools.lru_cache(maxsize=256)
def catalogue_price(model: str, base_url: str | None = None) -> PriceQuote | None:
    """genai-prices' price for `model` today, or None when it does not list the model."""
    import genai_prices  # 0.3 s to import its data: only on a worker that needs it, once
    from genai_prices import Usage

    million = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    url = base_url if base_url and "127.0.0.1" not in base_url else None
    try:
        priced = genai_prices.calc_price(
            million, model, provider_api_url=url, genai_request_timestamp=datetime.now(UTC)
        )
    except LookupError:
        if url is None:
            return None
        return catalogue_price(model)  # a proxy or gateway URL the catalogue does not know
    source = f"genai-prices {genai_prices.__version__}"
    return PriceQuote(
        input_per_mtok=float(priced.input_price), output_per_mtok=float(priced.output_price), source=source
    )


class PriceBook:
    """The prices one provider charges at; `explicit` applies to its default model only."""

    def __init__(
        self, default_model: str, *, explicit: ModelPrice | None = None, base_url: str | None = None
    ):
        self.default_model = default_model
        self._explicit = explicit
        self._base_url = base_url

    def quote(self, model: str) -> PriceQuote | None:
        if self._explicit is not None and model == self.default_model:
            return _quote(self._explicit, PRICE_SETTING)
        table = price_of(model)
        if table is not None:
            return _quote(table, f"table {PRICE_TABLE_VERSION}")
        return catalogue_price(model, self._base_url)

    def require_default(self) -> PriceQuote:
        """The default model's price, or ConfigError naming the setting that supplies one."""
        quote = self.quote(self.default_model)
        if quote is None:
            raise ConfigError(
                f"LLM_MODEL={self.default_model!r} has no known price (not in genai-prices or the "
                f"table): set {PRICE_SETTING}=INPUT/OUTPUT in USD per million tokens, e.g. "
                f"{PRICE_SETTING}=0.20/0.80"
            )
        return quote
