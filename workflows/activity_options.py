"""Timeouts and retry policies of the activities the loop calls, and how their failures read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError

from core.errors import NON_RETRYABLE_TYPE_NAMES, TransientError

# A small local model on 2 cores can take a minute on a long prompt; hosted models are far faster.
LLM_TIMEOUT = timedelta(minutes=5)
# The activity beats every 2 s while it waits for the model (activities/heartbeat.py): a killed worker's
# call is retried on a live one after this long instead of after LLM_TIMEOUT.
LLM_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# Provider-side retries are off: Temporal owns them, so every attempt shows in history.
LLM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=NON_RETRYABLE_TYPE_NAMES,
)


def failure_of(err: ActivityError) -> tuple[str, str, dict[str, Any] | None]:
    """The taxonomy class name, message and details behind a failed activity."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else None
        return cause.type or TransientError.__name__, cause.message, details
    if isinstance(cause, TimeoutError):
        return TransientError.__name__, f"timed out ({cause.type.name if cause.type else 'timeout'})", None
    return TransientError.__name__, str(cause or err), None
