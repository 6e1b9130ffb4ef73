"""The error taxonomy: every failure is exactly one of these classes.

    AgentError
    ├── RetryableError              Temporal retries these (bounded by the RetryPolicy)
    │   ├── TransientError          timeouts, 5xx, connection resets, unclassified crashes
    │   ├── RateLimitedError        429; honours Retry-After via next_retry_delay
    │   └── DependencyDownError     a dependency is down for longer than a blip
    └── NonRetryableError           never retried: the same input can never succeed
        ├── InvalidInputError       arguments or requests that fail validation
        ├── ToolNotFoundError       the model named a tool that does not exist
        ├── NotFoundError           the referenced record does not exist
        ├── PermissionDeniedError   the caller may not do this
        ├── BudgetExceededError     a turn, token, cost or time budget is spent
        ├── ContextOverflowError    the prompt does not fit the model's context
        ├── AuthError               credentials rejected by a provider (401/403)
        ├── ContentFilteredError    the provider refused the content
        ├── CircuitOpenError        the tool's circuit breaker is open
        └── PayloadTooLargeError    a payload exceeds what Temporal can carry

Each converts to ``ApplicationError(type=<class name>, non_retryable=...)`` so
retry policies can be built from the classes, never from string literals.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from temporalio.exceptions import ApplicationError


class AgentError(Exception):
    """Base of the taxonomy; subclasses fix `retryable`."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    @property
    def type_name(self) -> str:
        return type(self).__name__

    def next_retry_delay(self) -> timedelta | None:
        return None

    def to_application_error(self) -> ApplicationError:
        return ApplicationError(
            self.message,
            self.details,
            type=self.type_name,
            non_retryable=not self.retryable,
            next_retry_delay=self.next_retry_delay(),
        )


class RetryableError(AgentError):
    retryable = True


class NonRetryableError(AgentError):
    retryable = False


class TransientError(RetryableError):
    pass


class RateLimitedError(RetryableError):
    """429 from a provider; `retry_after` (capped) becomes Temporal's next_retry_delay."""

    MAX_RETRY_AFTER = timedelta(seconds=60)

    def __init__(
        self, message: str, *, retry_after: timedelta | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = min(retry_after, self.MAX_RETRY_AFTER) if retry_after else None

    def next_retry_delay(self) -> timedelta | None:
        return self.retry_after


class DependencyDownError(RetryableError):
    pass


class InvalidInputError(NonRetryableError):
    pass


class ToolNotFoundError(NonRetryableError):
    pass


class NotFoundError(NonRetryableError):
    pass


class PermissionDeniedError(NonRetryableError):
    pass


class BudgetExceededError(NonRetryableError):
    pass


class ContextOverflowError(NonRetryableError):
    pass


class AuthError(NonRetryableError):
    pass


class ContentFilteredError(NonRetryableError):
    pass


class CircuitOpenError(NonRetryableError):
    pass


class PayloadTooLargeError(NonRetryableError):
    pass


RETRYABLE_ERRORS: tuple[type[AgentError], ...] = (TransientError, RateLimitedError, DependencyDownError)
NON_RETRYABLE_ERRORS: tuple[type[AgentError], ...] = (
    InvalidInputError,
    ToolNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    BudgetExceededError,
    ContextOverflowError,
    AuthError,
    ContentFilteredError,
    CircuitOpenError,
    PayloadTooLargeError,
)
# Used by every RetryPolicy: derived from the classes so a rename cannot drift.
NON_RETRYABLE_TYPE_NAMES: list[str] = [cls.__name__ for cls in NON_RETRYABLE_ERRORS]
ERRORS_BY_NAME: dict[str, type[AgentError]] = {
    cls.__name__: cls for cls in RETRYABLE_ERRORS + NON_RETRYABLE_ERRORS
}


def is_retryable_type(type_name: str | None) -> bool:
    """Whether an ApplicationError type name is retryable; unknown types count as transient."""
    cls = ERRORS_BY_NAME.get(type_name or "")
    return True if cls is None else cls.retryable
