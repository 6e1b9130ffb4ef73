"""A structlog processor that masks secrets before any renderer sees an event.

Two rules: the value of any key named in the redaction list (at any depth) becomes `***`, and any
string that contains a known secret value (the worker's LLM_API_KEY) becomes `***` wherever it sits.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from structlog.typing import EventDict, WrappedLogger

MASK = "***"
DEFAULT_REDACT_KEYS: frozenset[str] = frozenset(
    {"api_key", "authorization", "llm_api_key", "password", "secret", "token"}
)
# Shorter "secrets" would mask ordinary words; no real API key is this short.
MIN_SECRET_CHARS = 6


def _norm(key: str) -> str:
    return key.strip().lower().replace("-", "_")


class Redactor:
    """The processor; build it once at configure time (see `redactor_from_env`)."""

    def __init__(self, keys: Iterable[str] = DEFAULT_REDACT_KEYS, secrets: Iterable[str] = ()) -> None:
        self.keys = frozenset(_norm(k) for k in keys if k.strip())
        self.secrets = tuple(s for s in secrets if len(s) >= MIN_SECRET_CHARS)

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
        return {key: self._field(key, value) for key, value in event_dict.items()}

    def _field(self, key: object, value: Any) -> Any:
        if isinstance(key, str) and _norm(key) in self.keys and value is not None:
            return MASK
        return self._value(value)

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return MASK if any(secret in value for secret in self.secrets) else value
        if isinstance(value, Mapping):
            return {k: self._field(k, v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._value(v) for v in value]
        if isinstance(value, BaseException):
            return self._value(str(value))
        return value


def redact_keys_from_env(env: Mapping[str, str] | None = None) -> frozenset[str]:
    """The default key names plus those in AGENT_LOG_REDACT ("a,b")."""
    env = os.environ if env is None else env
    extra = {_norm(k) for k in env.get("AGENT_LOG_REDACT", "").split(",") if k.strip()}
    return DEFAULT_REDACT_KEYS | extra


def redactor_from_env(env: Mapping[str, str] | None = None) -> Redactor:
    """Reads the key list and the current LLM_API_KEY once; later env changes are not seen."""
    env = os.environ if env is None else env
    secret = env.get("LLM_API_KEY") or ""
    return Redactor(redact_keys_from_env(env), [secret] if secret else [])
