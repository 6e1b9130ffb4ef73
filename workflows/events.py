"""Structured events from workflow code: the replay-safe `workflow.logger`, the run's turn on each.

workflow.logger adds workflow_id and run_id and stays silent while history replays, so each event is
logged once per run; core.logging routes it through the structlog chain (JSON, redaction).
"""

from __future__ import annotations

import logging

from temporalio import workflow


def emit(event: str, turn: int, *, level: int = logging.INFO, **fields: object) -> None:
    # `extra` may not reuse LogRecord attribute names (args, msg, name…): callers name fields plainly.
    workflow.logger.log(level, event, extra={"turn": turn, **fields})


def warn(event: str, turn: int, **fields: object) -> None:
    emit(event, turn, level=logging.WARNING, **fields)
