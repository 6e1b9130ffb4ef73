"""Read-only commands: `status` and `replay`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowHistory
from temporalio.worker import Replayer

from cli.errors import EXIT_BY_STATE, EXIT_FAILED, EXIT_HUMAN, EXIT_OK, CliError
from cli.runs import query_status
from core import search_attributes as sa
from core.client import deployment_converter
from core.config import Settings
from core.models import AgentResult, RunState


async def status(handle: WorkflowHandle[Any, Any]) -> tuple[int, dict[str, Any]]:
    """Live state from the run when a worker answers, else what the server alone knows."""
    desc = await handle.describe()
    if desc.status == WorkflowExecutionStatus.COMPLETED:
        result: AgentResult = await handle.result()
        data = {
            "workflow_id": handle.id,
            "state": result.status.value,
            "turns": result.turns,
            "answer": result.answer,
            "usage": result.usage.model_dump(),
            "cost_usd": result.cost_usd,
        }
        return EXIT_BY_STATE[result.status], data
    if desc.status != WorkflowExecutionStatus.RUNNING:
        name = desc.status.name.lower() if desc.status else "unknown"
        return EXIT_FAILED, {
            "workflow_id": handle.id,
            "state": name,
            "note": f"the run ended as {name} in Temporal, outside the agent's own outcomes",
        }
    live = await query_status(handle)
    if live is None:
        attrs = desc.typed_search_attributes
        state = attrs.get(sa.AGENT_STATUS) or "running"
        code = EXIT_HUMAN if state == RunState.AWAITING_APPROVAL.value else EXIT_OK
        return code, {
            "workflow_id": handle.id,
            "state": state,
            "turn": attrs.get(sa.AGENT_TURNS),
            "note": "no worker answered (none running, or the run is from an older code version); "
            "state from search attributes",
        }
    data = live.model_dump(mode="json", exclude={"steps", "calls", "audit"})
    code = EXIT_HUMAN if live.state == RunState.AWAITING_APPROVAL else EXIT_OK
    return code, data


def render_status(data: dict[str, Any]) -> list[str]:
    lines = [f"run {data['workflow_id']}: {data['state']}"]
    for key in ("turn", "max_turns", "tool_calls", "cost_usd", "answer", "note"):
        if data.get(key) is not None:
            lines.append(f"  {key}: {data[key]}")
    for flight in data.get("in_flight") or ():
        lines.append(f"  running: {flight}")
    for item in data.get("pending") or ():
        lines.append(f"  pending approval {item['call_id']}: {item['tool']} {json.dumps(item['args'])}")
        lines.append(f"    args_sha256 {item['args_sha256']}, deadline {item['deadline']}")
    return lines


async def replay(client: Client | None, target: str) -> dict[str, Any]:
    """Replay one history (a file exported as JSON, or a run id) against the current workflow code."""
    from workflows.agent import AgentWorkflow  # the CLI needs the workflow code only to replay it

    path = Path(target)
    text = await asyncio.to_thread(path.read_text) if path.suffix == ".json" and path.is_file() else None  # noqa: ASYNC240
    if text is not None:
        history = WorkflowHistory.from_json(path.stem, text)
    elif client is not None:
        history = await client.get_workflow_handle(target).fetch_history()
    else:
        raise CliError("NotFoundError", f"{target} is neither a history file nor a reachable run id")
    # The deployment's converter: decrypts (codec keys) and fetches large payloads (payload store).
    replayer = Replayer(workflows=[AgentWorkflow], data_converter=deployment_converter(Settings.from_env()))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    if result.replay_failure is not None:
        raise CliError(
            "NonDeterminismError", f"replay of {target} failed: {result.replay_failure}", EXIT_FAILED
        )
    return {"replayed": target, "ok": True}
