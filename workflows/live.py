"""The run's workflow stream: its progress events published as they happen, for SSE and the CLI.

Built on temporalio.contrib.workflow_streams: the workflow appends to the stream's log (no command,
no history event); readers long-poll it with updates, and `llm.complete` publishes the reply text to
it by signal (activities/llm/live.py). Offsets, dedup of publishes and the hand-over across
continue-as-new are the library's.

Behind patch PATCH: a run that started before it has no stream and is followed through the
`progress` query, as before (api/feeds.py, cli/runs.py). Remove the branch once no such run is open
and its histories have left tests/histories' replay set.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.contrib.workflow_streams import WorkflowStream, WorkflowStreamState

with workflow.unsafe.imports_passed_through():
    from core.live import PROGRESS_TOPIC
    from core.progress import ProgressEvent

PATCH = "live-progress-stream"
# Items the next run keeps on continue-as-new: a reader that far behind (the API's feed is within a
# poll of the head) still resumes without a gap; the carried input stays well below 1 MB.
CARRY_ITEMS = 500


class LiveStream:
    """The run's stream and its `progress` topic (the `text` topic is the activity's)."""

    def __init__(self, stream: WorkflowStream) -> None:
        self._stream = stream
        self._progress = stream.topic(PROGRESS_TOPIC, type=ProgressEvent)

    def publish(self, event: ProgressEvent) -> None:
        self._progress.publish(event)

    def detach(self) -> None:
        """Release the waiting readers (they follow to the next run, or drain the ended one)."""
        self._stream.detach_pollers()

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
