"""query(): one workflow query, asked again when the server gave up waiting for a workflow task.

A query is answered by a worker's workflow task. On a busy worker (two cores, many runs) that
task can start after the RPC deadline, and sdk-core reports "Timeout expired" as CANCELLED, the
server as DEADLINE_EXCEEDED. Neither means the run is gone, so the query is asked again, a few
times; every other error (no such run, a failed query) reaches the caller at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

# A worker answers a query in milliseconds; with none, the server would hold it much longer.
QUERY_TIMEOUT = timedelta(seconds=5)
ATTEMPTS = 3
LATE = frozenset({RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED})


async def query(handle: WorkflowHandle[Any, Any], fn: Any, *args: Any) -> Any:
    """`handle.query(fn, *args)`, asked up to ATTEMPTS times while it only came back late."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await handle.query(fn, *args, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as exc:
            if exc.status not in LATE or attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")
