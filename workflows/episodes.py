"""Episodic memory from workflow code: recall a user's last episodes, store this conversation's.

Both are activities (activities/memory.py); a failure of either never ends the conversation: it goes
on without memory, or closes without its episode, and the operator reads why in the log.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from core import conversation as c
    from core.errors import NON_RETRYABLE_TYPE_NAMES
    from workflows.conversation_memory import ConversationMemory, clip

MEMORY_TIMEOUT = timedelta(seconds=30)
MEMORY_RETRY = RetryPolicy(maximum_attempts=5, non_retryable_error_types=NON_RETRYABLE_TYPE_NAMES)


async def recall(agent: str, user_id: str, limit: int) -> tuple[c.Episode, ...]:
    if limit == 0:
        return ()
    query = c.EpisodeQuery(agent=agent, user_id=user_id, limit=limit)
    try:
        found: c.Episodes = await workflow.execute_activity(
            "memory.recall_episodes",
            query,
            result_type=c.Episodes,
            start_to_close_timeout=MEMORY_TIMEOUT,
            retry_policy=MEMORY_RETRY,
            summary="recall episodes",
        )
    except ActivityError as err:
        workflow.logger.error("memory.recall_failed", extra={"error": str(err.cause)})
        return ()
    return found.episodes


def episode_of(
    memory: ConversationMemory, key: str, agent: str, request: c.ConversationRequest, handled: int
) -> c.Episode:
    """Issue (the first message), resolution (the last answer) and the ids the conversation named."""
    last = memory.recent[-1].assistant if memory.recent else ""
    return c.Episode(
        key=key,
        agent=agent,
        user_id=request.user_id,
        thread_id=request.thread_id,
        issue=clip(memory.first_message, 500),
        resolution=clip(last, 800),
        ids=tuple(memory.kept_ids[-20:]),
        messages=handled,
        closed_at=workflow.now(),
    )


async def store(episode: c.Episode) -> bool:
    """Whether the episode is stored (now, or by an earlier attempt of the same write)."""
    try:
        await workflow.execute_activity(
            "memory.write_episode",
            episode,
            result_type=c.EpisodeStored,
            start_to_close_timeout=MEMORY_TIMEOUT,
            retry_policy=MEMORY_RETRY,
            summary="store episode",
        )
    except ActivityError as err:
        workflow.logger.error("memory.write_failed", extra={"error": str(err.cause)})
        return False
    return True
