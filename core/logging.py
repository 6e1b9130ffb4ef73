"""structlog set-up: readable console lines in development, JSON in production (AGENT_LOG_FORMAT)."""

from __future__ import annotations

import logging
import os
import sys

import structlog

from core.redaction import Redactor, redactor_from_env

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


def build_processors(fmt: str, redactor: Redactor | None = None) -> list[structlog.types.Processor]:
    """The chain, renderer last: tests swap the renderer for a capture and keep the rest."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # Tracebacks become text first, so the redactor sees them too.
        structlog.processors.format_exc_info,
        # After every processor that adds fields and before the renderer: nothing escapes it.
        redactor or redactor_from_env(),
        renderer,
    ]


def configure_logging(fmt: str | None = None, level: str | None = None) -> None:
    """Malformed settings fall back to console / INFO with a warning instead of stopping the worker."""
    fmt = _checked_format(fmt)
    numeric = _checked_level(level)
    structlog.configure(
        processors=build_processors(fmt),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    # The SDK and workflow.logger use stdlib logging: same stream, same level.
    logging.basicConfig(
        stream=sys.stderr, level=numeric, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
