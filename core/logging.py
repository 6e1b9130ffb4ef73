"""structlog set-up: readable console lines in development, JSON in production (AGENT_LOG_FORMAT)."""

from __future__ import annotations

import logging
import os
import sys

import structlog


def configure_logging(fmt: str | None = None, level: str | None = None) -> None:
    fmt = (fmt or os.environ.get("AGENT_LOG_FORMAT", "console")).lower()
    level_name = (level or os.environ.get("AGENT_LOG_LEVEL", "INFO")).upper()
    if fmt not in ("console", "json"):
        print(f"warning: AGENT_LOG_FORMAT={fmt!r} is not console|json; using console", file=sys.stderr)
        fmt = "console"
    numeric = logging.getLevelName(level_name)
    if not isinstance(numeric, int):
        print(f"warning: AGENT_LOG_LEVEL={level_name!r} is not a level; using INFO", file=sys.stderr)
        numeric = logging.INFO
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    # The SDK and workflow.logger use stdlib logging: same stream, same level.
    logging.basicConfig(
        stream=sys.stderr, level=numeric, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
