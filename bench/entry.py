"""How a bench runs from the command line: quiet logs, one event loop, an exit without teardown."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

from core.config import ConfigError
from core.gc_tuning import tune_gc
from core.logging import configure_logging
from core.process import exit_now


def run(
    amain: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
    args: argparse.Namespace,
    *,
    level: str = "ERROR",
    sdk_level: int = logging.ERROR,
) -> NoReturn:
    """Log only what matters to the bench (a line per activity would be measured too), then exit
    with amain's code through exit_now (see core/process.py)."""
    configure_logging(level=level)
    logging.getLogger("temporalio").setLevel(sdk_level)
    try:
        tune_gc()  # the workers in this process collect garbage as the production worker does
    except ConfigError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        exit_now(2)
    exit_now(asyncio.run(amain(args)))
