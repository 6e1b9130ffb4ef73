"""Exit codes of docs/architecture.md and the one error type the CLI reports without a traceback."""

from __future__ import annotations

from temporalio.service import RPCError, RPCStatusCode

from core.models import RunState

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_HUMAN = 3  # escalated, or waiting for a human
EXIT_STOPPED = 4  # denied, or a budget ran out

EXIT_BY_STATE: dict[RunState, int] = {
    RunState.COMPLETED: EXIT_OK,
    RunState.ESCALATED: EXIT_HUMAN,
    # Both end with the case handed to people (a ticket), like an escalation.
    RunState.ESCALATED_UNRESOLVED: EXIT_HUMAN,
    RunState.LOOP_DETECTED: EXIT_HUMAN,
    RunState.AWAITING_APPROVAL: EXIT_HUMAN,
    RunState.DENIED: EXIT_STOPPED,
    RunState.BUDGET_EXHAUSTED: EXIT_STOPPED,
    RunState.FAILED: EXIT_FAILED,
    RunState.CANCELLED: EXIT_STOPPED,
    RunState.RUNNING: EXIT_OK,
}


class CliError(Exception):
    """A typed, user-facing failure: `kind` names the error class, `code` the exit code."""

    def __init__(self, kind: str, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code


def run_unreadable(exc: RPCError, workflow_id: str) -> CliError:
    """The CLI error for a run the server could not give us: unknown id, or the server's reason."""
    if exc.status == RPCStatusCode.NOT_FOUND:
        return CliError("NotFoundError", f"no run with id {workflow_id!r}")
    return CliError("TemporalError", f"could not read run {workflow_id}: {exc.message}", EXIT_FAILED)
