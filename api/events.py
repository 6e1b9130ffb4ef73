"""GET /v1/runs/{id}/events: the run's progress as server-sent events, then its result.

A run with a workflow stream (workflows/live.py) sends its items: `progress` events and the model's
`text` pieces (core/live.py), each with its stream offset as SSE id. A run from before streams sends
the `progress` events of its query, each with its `seq` as id. Both numberings survive
continue-as-new, so `Last-Event-ID: N` resumes at N + 1 with nothing repeated or skipped. The stream
ends with one `result` event (the AgentResult); it has no id, so a client that reconnects after it
hears the result again, never an event twice. One shared feed per followed run (api/feeds.py),
however many subscribers follow it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

from temporalio.client import WorkflowFailureError

from api.errors import ApiError
from api.feeds import Feed
from api.service import Described, Service
from api.stream_feed import StreamFeed
from api.stream_feed import frame as frame  # re-exported: the one SSE framing of every stream
from core.errors import DependencyDownError, InvalidInputError

ANSWER_WITHIN_S = 15.0
_OFFSET = re.compile(r"^\d{1,12}$")


def resume_after(last_event_id: str | None) -> int:
    """The first seq to send: 0, or the one after Last-Event-ID; InvalidInputError for a bogus id."""
    if last_event_id is None or last_event_id == "":
        return 0
    if not _OFFSET.match(last_event_id.strip()):
        raise ApiError(400, InvalidInputError("Last-Event-ID must be the id of an event of this stream"))
    return int(last_event_id) + 1


async def check_offset(service: Service, run: Described, since: int) -> None:
    """An offset past the run's newest event is refused before the stream opens, while the answer
    can still be a typed 400 rather than a broken stream (by queries alone: a refused request leaves
    the run's history as it was, which a stream's poll, an update, would not)."""
    if since == 0:
        return
    next_seq = await service.feeds.next_seq(run.handle, ANSWER_WITHIN_S)
    if next_seq is None:
        raise ApiError(503, DependencyDownError("no worker answered for the run; try again shortly"))
    if since > next_seq:
        raise ApiError(400, InvalidInputError(f"Last-Event-ID {since - 1} is not an event of this run"))


async def stream(service: Service, run: Described, since: int) -> AsyncIterator[bytes]:
    """Every event from `since` on, then the result (from the run's shared feed, api/feeds.py)."""
    async with service.feeds.following(run.handle) as feed:
        async for chunk in feed.frames_from(since):
            yield b": keep-alive\n\n" if chunk is None else chunk
        yield _end_frame(feed)


def _end_frame(feed: Feed | StreamFeed) -> bytes:
    ended = feed.ended
    if feed.error is not None or ended is None or not ended.done():
        return frame("error", json.dumps({"type": "DependencyDownError", "message": feed.error or "-"}))
    try:
        result = ended.result()
    except WorkflowFailureError as exc:  # terminated, timed out: there is no AgentResult
        return frame("error", json.dumps({"type": "WorkflowFailed", "message": str(exc.cause)[:500]}))
    return frame("result", result.model_dump_json())
