"""From production to tests: `export-case ID` writes a finished run as an editable eval case (its task,
the human decisions taken, its trajectory and side effects as the expected ones); `export-history ID`
writes its history under tests/histories/ for a replay test."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import yaml
from temporalio.client import Client, WorkflowHistory

from cli import trace
from cli.errors import CliError
from core.agent import Agent, AgentEnv
from core.apps import opened_deps

HISTORIES = Path("tests/histories")
EVALS = Path("evals")


def case_of(report: trace.TraceReport, request: dict[str, Any], rows: dict[str, int]) -> dict[str, Any]:
    """The eval case a finished run makes: what it was asked, decided, did and wrote."""
    if report.status is None:
        raise CliError("InvalidInputError", f"run {report.workflow_id} has not finished ({report.execution})")
    tool_of = {c.call_id: c.tool for t in report.turns for c in t.calls}
    approvals = [
        {"tool": tool_of.get(str(s["payload"].get("call_id")), "?"), "decision": s["name"]}
        for s in report.signals
        if s["name"] in ("approve", "deny") and isinstance(s.get("payload"), dict)
    ]
    called = list(dict.fromkeys(c.tool for t in report.turns for c in t.calls))
    case: dict[str, Any] = {
        "id": re.sub(r"[^a-z0-9_.-]+", "-", report.workflow_id.lower()).strip("-")[:80] or "exported",
        "task": request.get("task") or "",
        "user": request.get("user_id") or "eval",
        "max_turns": max(report.totals.turns, 1),
        "approvals": approvals,
        "expect": {
            "status": report.status,
            "tools": {"called": called},
            "side_effects": rows,
            "limits": {"max_turns": max(report.totals.turns, 1)},
        },
    }
    return case


async def export_case(
    client: Client, agents: list[Agent[Any]], data_dir: Path, workflow_id: str, out: Path | None
) -> dict[str, Any]:
    from evals.runner import rows_created, store_of  # the eval runner's own reading of side effects

    history = await trace.fetch(client, workflow_id)
    report = await trace.build_report(history, client.data_converter)
    request = await _request(history, client)
    agent = _agent(agents, request, workflow_id)
    async with opened_deps([agent], AgentEnv(data_dir)) as deps:
        store = store_of(deps.get(agent.name))
        rows = await rows_created(store, workflow_id) if store else {}
    case = case_of(report, request, rows)
    path = out or EVALS / agent.name / f"exported-{case['id']}.yaml"
    document = {"category": "exported", "cases": [case]}
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    await asyncio.to_thread(
        _write, path, "# Exported from a run: edit the expectations before keeping it.\n" + text
    )
    return {"workflow_id": workflow_id, "case": case["id"], "written": str(path)}


async def export_history(client: Client, workflow_id: str, out_dir: Path = HISTORIES) -> dict[str, Any]:
    history = await trace.fetch(client, workflow_id)
    request = await _request(history, client)
    name = f"{request.get('agent') or 'agent'}.{re.sub(r'[^A-Za-z0-9_.-]+', '-', workflow_id)}.json"
    path = out_dir / name
    await asyncio.to_thread(_write, path, history.to_json(), overwrite=False)
    return {"workflow_id": workflow_id, "written": str(path), "events": len(history.events)}


def _write(path: Path, text: str, overwrite: bool = True) -> None:
    if path.exists() and not overwrite:
        raise CliError("InvalidInputError", f"{path} exists: committed histories are never overwritten")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


async def _request(history: WorkflowHistory, client: Client) -> dict[str, Any]:
    attrs = history.events[0].workflow_execution_started_event_attributes
    values = await client.data_converter.decode(list(attrs.input.payloads)) if attrs.input.payloads else []
    return values[0] if values and isinstance(values[0], dict) else {}


def _agent(agents: list[Agent[Any]], request: dict[str, Any], workflow_id: str) -> Agent[Any]:
    name = request.get("agent") or (agents[0].name if agents else "")
    found = next((a for a in agents if a.name == name), None)
    if found is None:
        raise CliError("IncompatibleRunError", f"run {workflow_id} ran agent {name!r}, not served here")
    return found
