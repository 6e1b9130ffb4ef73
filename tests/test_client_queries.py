"""client/queries.py: a query that came back late is asked again; any other error is not."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.service import RPCError, RPCStatusCode

from client.queries import ATTEMPTS, QUERY_TIMEOUT, query


class ScriptedHandle:
    """Answers each query with the next outcome: an RPCError status to raise, or a value."""

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[Any, tuple[Any, ...], Any]] = []

    async def query(self, fn: Any, *args: Any, rpc_timeout: Any = None) -> Any:
        self.calls.append((fn, args, rpc_timeout))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, RPCStatusCode):
            raise RPCError("Timeout expired", outcome, b"")
        return outcome


async def test_a_late_answer_is_asked_again_with_the_same_arguments() -> None:
    handle = ScriptedHandle(RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED, "status")
    assert await query(handle, "progress", 7) == "status"  # type: ignore[arg-type]
    assert handle.calls == [("progress", (7,), QUERY_TIMEOUT)] * 3


async def test_a_query_late_every_time_raises_after_the_last_attempt() -> None:
    handle = ScriptedHandle(*[RPCStatusCode.CANCELLED] * (ATTEMPTS + 1))
    with pytest.raises(RPCError) as raised:
        await query(handle, "status")  # type: ignore[arg-type]
    assert raised.value.status == RPCStatusCode.CANCELLED
    assert len(handle.calls) == ATTEMPTS


@pytest.mark.parametrize("status", [RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT])
async def test_any_other_error_is_raised_at_once(status: RPCStatusCode) -> None:
    handle = ScriptedHandle(status, "never asked")
    with pytest.raises(RPCError) as raised:
        await query(handle, "status")  # type: ignore[arg-type]
    assert raised.value.status == status
    assert len(handle.calls) == 1
