"""Replay every committed history against the current workflow code (determinism guard)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

import workflows.loop
import workflows.routing
from core.agent import Agent
from core.models import ToolCall
from tests.conftest import DEMO_AGENTS
from tests.plan_agent import planning_agent
from worker import build_replayer

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def replayer(*agents: Agent[Any]) -> Replayer:
    """The production Replayer (worker.build_replayer) over the demo agents and the plan-mode test
    agent, or the ones given."""
    return build_replayer(agents or (*DEMO_AGENTS, planning_agent()), pydantic_data_converter)


def test_there_are_histories_to_replay() -> None:
    """At least one history per demo agent and per scenario (named <agent>.<scenario>)."""
    assert {p.stem for p in HISTORIES} >= {
        "merchant_support.refund_approved",
        "merchant_support.refund_denied",
        "merchant_support.conversation_followups",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_history_replays_on_current_code(path: Path) -> None:
    result = await replayer().replay_workflow(load(path), raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"


async def test_a_reordering_change_is_caught_as_nondeterminism(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard has teeth: running parallel calls in another order no longer matches the history."""
    original = workflows.routing.renumber

    def reversed_order(calls: tuple[ToolCall, ...], turn: int) -> tuple[ToolCall, ...]:
        return tuple(reversed(original(calls, turn)))

    monkeypatch.setattr(workflows.loop, "renumber", reversed_order)  # where the loop calls it
    history = load(Path(__file__).parent / "histories" / "merchant_support.refund_approved.json")
    result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "nondetermin" in str(result.replay_failure).lower()
