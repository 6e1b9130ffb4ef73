"""A workflow with a genuine bug (I/O in workflow code), in a module of its own: the sandbox imports
the module of a workflow it validates, so it keeps nothing else."""

from __future__ import annotations

from pathlib import Path

from temporalio import workflow


@workflow.defn(name="ReadsAFile")
class ReadsAFile:
    @workflow.run
    async def run(self) -> str:
        return Path(__file__).read_text()[:10]  # noqa: ASYNC240 - the bug: the sandbox refuses this I/O


@workflow.defn(name="DividesByZero")
class DividesByZero:
    @workflow.run
    async def run(self, divisor: int) -> float:
        return 1 / divisor  # a programming error: with 0, every workflow task fails
