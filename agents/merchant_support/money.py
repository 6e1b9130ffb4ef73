"""Money of the merchant-support tools: Decimal end to end, so 0.1 + 0.2 style float errors cannot
reach a refund, and ids derived from idempotency keys."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from core.errors import InvalidInputError

# ISO 4217 currencies without minor units; every other currency is taken to have two.
ZERO_DECIMAL_CURRENCIES = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW"}) | frozenset(
    {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)


def minor_exponent(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL_CURRENCIES else 2


def to_minor(amount: Decimal, currency: str) -> int:
    """Major units to integer minor units, refusing amounts finer than the currency allows."""
    scaled = amount.scaleb(minor_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise InvalidInputError(
            f"amount {amount} has more decimal places than {currency} allows",
            details={"amount": str(amount), "currency": currency},
        )
    return int(scaled)


def format_minor(minor: int, currency: str) -> str:
    exponent = minor_exponent(currency)
    return f"{Decimal(minor).scaleb(-exponent):.{exponent}f}"


def derived_id(prefix: str, idempotency_key: str) -> str:
    # Derived from the key, so a retry that somehow bypassed run_once collides on the primary key.
    return prefix + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
