"""GET /v1/runs/{id}/events: the run's progress as server-sent events, then its result.

Served from the run's `progress` query (workflows/progress.py): each event's SSE id is its `seq`, an
offset that survives continue-as-new, so `Last-Event-ID: N` resumes at N + 1 with nothing repeated or
skipped. The stream ends with one `result` event (the AgentResult); it has no id, so a client that
reconnects after it hears the result again, never an event twice.

Not yet on temporalio.contrib.workflow_streams: the query is polled every POLL_S per subscriber.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator

from temporalio.client import WorkflowFailureError, WorkflowQueryFailedError

from api.errors import ApiError
from api.service import Described, Service
from core.errors import InvalidInputError
from core.models import AgentResult, ProgressPage, RunState

POLL_S = 0.1
# Comment lines keep proxies from closing a quiet stream (a run waiting hours for its approver).
KEEPALIVE_S = 15.0
_OFFSET = re.compile(r"^\d{1,12}$")


def resume_after(last_event_id: str | None) -> int:
    """The first seq to send: 0, or the one after Last-Event-ID; InvalidInputError for a bogus id."""
    if last_event_id is None or last_event_id == "":
        return 0
    if not _OFFSET.match(last_event_id.strip()):
        raise ApiError(400, InvalidInputError("Last-Event-ID must be the id of an event of this stream"))
    return int(last_event_id) + 1


async def first_page(service: Service, run: Described, since: int) -> ProgressPage:
    """The page the stream opens with; an offset past the run's newest event is refused here, while
    the answer can still be a typed 400 rather than a broken stream."""
    page = await service.runs.progress(run.handle, since)
    if since > page.next_seq:
        raise ApiError(400, InvalidInputError(f"Last-Event-ID {since - 1} is not an event of this run"))
    return page


def frame(event: str, data: str, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n".encode()


async def stream(service: Service, run: Described, page: ProgressPage, since: int) -> AsyncIterator[bytes]:
    """Every event from `since` on, then the result; the run's end is its result, not a state it
    reports (a terminated run never reports one), so one long poll for the result runs alongside."""
    ended = asyncio.ensure_future(run.handle.result())
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    try:
        while True:
            for event in page.events:
                yield frame("progress", event.model_dump_json(), event.seq)
                since, quiet_since = event.seq + 1, loop.time()
            if not page.events:
                if ended.done():  # drained after the end: nothing can follow
                    yield _result_frame(ended)
                    return
                if loop.time() - quiet_since > KEEPALIVE_S:
                    yield b": keep-alive\n\n"
                    quiet_since = loop.time()
                await asyncio.wait({ended}, timeout=POLL_S)
            page = await _page(service, run, since, ended)
    finally:
        ended.cancel()


async def _page(
    service: Service, run: Described, since: int, ended: asyncio.Future[AgentResult]
) -> ProgressPage:
    try:
        return await service.runs.progress(run.handle, since)
    except WorkflowQueryFailedError:
        if ended.done():  # a terminated run may answer no query: its end is the result frame
            return ProgressPage(state=RunState.FAILED)
        raise


def _result_frame(ended: asyncio.Future[AgentResult]) -> bytes:
    try:
        result = ended.result()
    except WorkflowFailureError as exc:  # terminated, timed out: there is no AgentResult
        body = {"type": "WorkflowFailed", "message": str(exc.cause)[:500]}
        return frame("error", json.dumps(body))
    return frame("result", result.model_dump_json())
