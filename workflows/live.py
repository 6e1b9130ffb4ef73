"""The run's workflow stream: its progress events published as they happen, for SSE and the CLI.

Built on temporalio.contrib.workflow_streams: the workflow appends to the stream's log (no command,
no history event); readers long-poll it with updates, and `llm.complete` publishes the reply text to
it by signal (activities/llm/live.py). Offsets, dedup of publishes and the hand-over across
continue-as-new are the library's.

A run's last items reach its readers through their long poll, not through the query that replays
an ended run on a worker (seconds on a loaded one): a run that was read waits, at most TAIL_WAIT,
until a reader's poll follows its last item (behind patch TAIL_PATCH). The poll handler is the
library's, wrapped only to count the polls that begin and wait.

Behind patch PATCH: a run that started before it has no stream and is followed through the
`progress` query, as before (api/feeds.py, cli/runs.py). Remove the branch once no such run is open
and its histories have left tests/histories' replay set.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.contrib.workflow_streams import PollInput, PollResult, WorkflowStream, WorkflowStreamState
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.live import PROGRESS_TOPIC, TEXT_TOPIC, TextPiece
    from core.progress import ProgressEvent

PATCH = "live-progress-stream"
# Items the next run keeps on continue-as-new: a reader that far behind (the API's feed is within a
# poll of the head) still resumes without a gap; the carried input stays well below 1 MB.
CARRY_ITEMS = 500
TAIL_PATCH = "live-tail-to-readers"
# A following reader polls again within the API's cooldown and a round trip; a reader that left is
# not waited for longer than this, and the run's result waits no longer either.
TAIL_WAIT = timedelta(seconds=2)
POLL = "__temporal_workflow_stream_poll"  # the library's long-poll update (named in its README)
DRAINING = "StreamDraining"  # the error its own validator gives a poll once pollers are detached


class LiveStream:
    """The run's stream and its `progress` topic; the `text` topic is the model call's, but for
    the pieces a reply carries back (LlmResponse.live_tail)."""

    def __init__(self, stream: WorkflowStream) -> None:
        self._stream = stream
        self._progress = stream.topic(PROGRESS_TOPIC, type=ProgressEvent)
        self._text = stream.topic(TEXT_TOPIC, type=TextPiece)
        self.polls_begun = self.polls_waiting = 0
        self._detached = False
        poll = workflow.get_update_handler(POLL)
        assert poll is not None, "the workflow stream registers its poll handler when made"
        workflow.set_update_handler(POLL, self._counted(poll), validator=self._validate)

    def publish(self, event: ProgressEvent) -> None:
        self._progress.publish(event)

    def publish_text(self, piece: TextPiece) -> None:
        """A piece the model call left to the run (LlmResponse.live_tail), as the activity made it."""
        self._text.publish(piece)

    def detach(self) -> None:
        """Release the waiting readers (they follow to the next run, or drain the ended one)."""
        self._detached = True
        self._stream.detach_pollers()

    async def end(self) -> None:
        """Detach once a reader of this run has a poll that returns the last items (or none read)."""
        if self.polls_begun and workflow.patched(TAIL_PATCH):
            begun = self.polls_begun

            # A poll waiting now returns every item from its offset to the end; so does one that
            # begins from now on.
            def delivered() -> bool:
                return self.polls_waiting > 0 or self.polls_begun > begun

            if not delivered():
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(delivered, timeout=TAIL_WAIT)
        self.detach()

    def _counted(
        self, poll: Callable[..., Awaitable[PollResult]]
    ) -> Callable[[PollInput], Awaitable[PollResult]]:
        async def counted(payload: PollInput) -> PollResult:
            self.polls_begun += 1
            self.polls_waiting += 1
            try:
                return await poll(payload)
            finally:
                self.polls_waiting -= 1

        return counted

    def _validate(self, _payload: PollInput) -> None:
        if self._detached:  # as the library's validator: the reader retries on the next run
            raise ApplicationError("the run's readers are detached for continue-as-new", type=DRAINING)

    def handover(self) -> WorkflowStreamState:
        """The state the next run starts from: the newest CARRY_ITEMS items, all offsets kept."""
        state = self._stream.get_state()
        end = state.base_offset + len(state.log)
        if len(state.log) <= CARRY_ITEMS:
            return state
        self._stream.truncate(end - CARRY_ITEMS)
        return self._stream.get_state()


def wanted() -> bool:
    """Whether this run publishes a stream: every run started by code with the patch."""
    return workflow.patched(PATCH)
