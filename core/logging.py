"""structlog set-up: readable console lines in development, JSON in production (AGENT_LOG_FORMAT)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog
from temporalio import activity, workflow

from core.redaction import Redactor, redactor_from_env
from core.sealing import seal, sealed_from_env

FORMATS = ("console", "json")


def _checked_format(fmt: str | None) -> str:
    fmt = (fmt or os.environ.get("AGENT_LOG_FORMAT", "console")).lower()
    if fmt not in FORMATS:
        print(f"warning: AGENT_LOG_FORMAT={fmt!r} is not console|json; using console", file=sys.stderr)
        return "console"
    return fmt


def _checked_level(level: str | None) -> int:
    level_name = (level or os.environ.get("AGENT_LOG_LEVEL", "INFO")).upper()
    numeric = logging.getLevelName(level_name)
    if not isinstance(numeric, int):
        print(f"warning: AGENT_LOG_LEVEL={level_name!r} is not a level; using INFO", file=sys.stderr)
        return logging.INFO
    return numeric


def build_processors(
    fmt: str, redactor: Redactor | None = None, *, sealed: bool = False
) -> list[structlog.types.Processor]:
    """The chain, renderer last: tests swap the renderer for a capture and keep the rest.

    `sealed`: content fields become digests (core/sealing.py), as when history is encrypted.
    """
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # Tracebacks become text first, so the redactor sees them too.
        structlog.processors.format_exc_info,
        *([seal] if sealed else []),
        # After every processor that adds fields and before the renderer: nothing escapes it.
        redactor or redactor_from_env(),
        renderer,
    ]


def configure_logging(fmt: str | None = None, level: str | None = None) -> None:
    """Malformed settings fall back to console / INFO with a warning instead of stopping the worker."""
    fmt = _checked_format(fmt)
    numeric = _checked_level(level)
    sealed = sealed_from_env(os.environ, debug=numeric <= logging.DEBUG)
    structlog.configure(
        processors=build_processors(fmt, sealed=sealed),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    route_stdlib_logging(numeric)


# LogRecord attributes that are not the caller's `extra` fields.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# The SDK puts a run's identity in these dicts; our events name the same fields the same way.
_TEMPORAL_FIELDS = {
    "workflow_id": "workflow_id",
    "run_id": "run_id",
    "workflow_run_id": "run_id",
    "workflow_type": "workflow_type",
    "activity_type": "activity_type",
    "attempt": "attempt",
}


class StructlogHandler(logging.Handler):
    """Sends stdlib records (the SDK's, workflow.logger's) through the structlog chain.

    So a workflow's `approval.requested` is JSON in production, carries workflow_id, run_id and
    its extra fields as event fields, and passes the same redactor as every other event.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = fields_of(record)
            structlog.get_logger(record.name).log(record.levelno, record.getMessage(), **fields)
        except Exception:  # logging must never break the caller: the stdlib's own rule
            self.handleError(record)


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """The caller's extra fields, with the SDK's workflow/activity context flattened into them."""
    fields: dict[str, Any] = {"logger": record.name}
    for key, value in vars(record).items():
        if key in _RECORD_FIELDS:
            continue
        if key in ("temporal_workflow", "temporal_activity") and isinstance(value, dict):
            fields.update({_TEMPORAL_FIELDS[k]: v for k, v in value.items() if k in _TEMPORAL_FIELDS})
        else:
            fields[key] = value
    if record.exc_info:
        fields["exc_info"] = record.exc_info
    return fields


def route_stdlib_logging(level: int = logging.INFO) -> None:
    """One handler on the root logger; the SDK's loggers stop adding their context to the message."""
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, StructlogHandler)]
    root.addHandler(StructlogHandler())
    root.setLevel(level)
    # The context goes to fields instead (see fields_of), not appended to the message text.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    # The handler's processors (timestamps, JSON) are plain I/O-free code: no sandbox checks needed.
    workflow.logger.unsafe_disable_sandbox()
