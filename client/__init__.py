"""The typed client of agent runs: what the CLI, the benches, the tests (and an application) use.

    runs = AgentClient(await connect(settings), settings.task_queue)
    handle = await runs.start(AgentRequest(task="…", agent="merchant_support"), workflow_id="req-42")
    await runs.approve(handle, ApproveSignal(call_id="t2-1", approver="alice", args_sha256=…))
    result = await handle.result()

Signals, updates and queries go by method reference (AgentWorkflow.approve…), never by string.
"""

from client.runs import AgentClient, RunHandle

__all__ = ["AgentClient", "RunHandle"]
