"""Read-only commands: `status` and `replay`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowHistory

from cli.diagnose import HUMAN_STATES, diagnose
from cli.errors import EXIT_BY_STATE, EXIT_FAILED, EXIT_HUMAN, EXIT_OK, CliError
from cli.runs import query_status
from core import search_attributes as sa
from core.client import deployment_converter
from core.config import Settings
from core.models import AgentResult


async def status(
    handle: WorkflowHandle[Any, Any], client: Client | None = None
) -> tuple[int, dict[str, Any]]:
    """Live state from the run when a worker answers, else what the server alone knows; with a client,
    a running run also says why it is not moving (no worker, a failing task, a human)."""
    desc = await handle.describe()
    if desc.status == WorkflowExecutionStatus.COMPLETED:
        result: AgentResult = await handle.result()
        done = {
            "workflow_id": handle.id,
            "state": result.status.value,
            "stop_reason": result.stop_reason,
            "turns": result.turns,
            "answer": result.answer,
            "usage": result.usage.model_dump(),
            "cost_usd": result.cost_usd,
        }
        return EXIT_BY_STATE[result.status], done
    if desc.status != WorkflowExecutionStatus.RUNNING:
        name = desc.status.name.lower() if desc.status else "unknown"
        return EXIT_FAILED, {
            "workflow_id": handle.id,
            "state": name,
            "note": f"the run ended as {name} in Temporal, outside the agent's own outcomes",
        }
    live = await query_status(handle)
    why = await diagnose(client, handle) if client is not None else None
    if live is None:
        attrs = desc.typed_search_attributes
        state = attrs.get(sa.AGENT_STATUS) or "running"
        code = EXIT_HUMAN if state in HUMAN_STATES else EXIT_OK
        data: dict[str, Any] = {
            "workflow_id": handle.id,
            "state": state,
            "turn": attrs.get(sa.AGENT_TURNS),
            "note": "no worker answered; state from search attributes",
        }
    else:
        data = live.model_dump(mode="json", exclude={"steps", "calls", "audit"})
        code = EXIT_HUMAN if live.state.value in HUMAN_STATES else EXIT_OK
    if why is not None:
        data["stall"] = why.as_dict()
    return code, data


def render_status(data: dict[str, Any]) -> list[str]:
    lines = [f"run {data['workflow_id']}: {data['state']}"]
    for key in ("stop_reason", "turn", "max_turns", "tool_calls", "cost_usd", "answer", "note"):
        if data.get(key) is not None:
            lines.append(f"  {key}: {data[key]}")
    if data.get("stall"):
        lines.append(f"  not moving ({data['stall']['stall']}): {data['stall']['message']}")
        lines.extend(f"    server reports {problem}" for problem in data["stall"].get("problems", ()))
    for flight in data.get("in_flight") or ():
        lines.append(f"  running: {flight}")
    for item in data.get("pending") or ():
        lines.append(f"  pending approval {item['call_id']}: {item['tool']} {json.dumps(item['args'])}")
        lines.append(f"    args_sha256 {item['args_sha256']}, deadline {item['deadline']}")
    return lines


async def replay(client: Client | None, target: str) -> dict[str, Any]:
    """Replay one history (a file exported as JSON, or a run id) against the current workflow code."""
    # The worker's code, only to replay: the agents of AGENT_APPS, the workflow, the converter.
    from worker import build_replayer, served_agents

    path = Path(target)
    text = await asyncio.to_thread(path.read_text) if path.suffix == ".json" and path.is_file() else None  # noqa: ASYNC240
    if text is not None:
        history = WorkflowHistory.from_json(path.stem, text)
    elif client is not None:
        history = await client.get_workflow_handle(target).fetch_history()
    else:
        raise CliError("NotFoundError", f"{target} is neither a history file nor a reachable run id")
    # The deployment's converter: decrypts (codec keys) and fetches large payloads (payload store).
    replayer = build_replayer(served_agents(), deployment_converter(Settings.from_env()))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    if result.replay_failure is not None:
        raise CliError(
            "NonDeterminismError", f"replay of {target} failed: {result.replay_failure}", EXIT_FAILED
        )
    return {"replayed": target, "ok": True}
