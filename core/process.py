"""Ending a process that used a Temporal client without the interpreter's teardown.

The SDK's Rust runtime keeps threads that may call into Python while CPython finalizes, which then
aborts with "PyGILState_Release: thread state ... must be current" (temporalio/sdk-python#300, open).
Seen here in about 1 of 25 bench runs. Everything worth keeping is flushed first, then os._exit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import NoReturn


def exit_now(code: int | None) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        # A closed stream or a broken pipe: nothing more can be written there anyway.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    logging.shutdown()
    os._exit(int(code or 0))
