"""A small agent for the plan-mode tests, and a scripted planner that answers its planning prompts.

Tools: find_account (read, returns `account_id`), read_notes (read, independent), close_account
(irreversible: approved by a human, takes an `account_id`). Every handler counts its runs, so a test
can prove a refused plan reached no tool.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from pydantic import BaseModel

from activities.llm.scripted import ScriptedReply, observations
from core.agent import Agent, Instructions, PromptVersion
from core.errors import NotFoundError
from core.function_tools import tool
from core.toolspec import ToolContext
from workflows import prompts

Runs = Counter[str]


class Account(BaseModel):
    account_id: str
    owner: str


class Notes(BaseModel):
    text: str


class Closed(BaseModel):
    closure_id: str
    message: str


@tool(max_attempts=3)
async def find_account(ctx: ToolContext[Runs], owner: str) -> Account:
    """Find an account by its owner's name.

    Args:
        owner: The owner's name, e.g. Ada.
    """
    ctx.deps["find_account"] += 1
    if owner == "nobody":
        raise NotFoundError(f"no account of {owner}")
    return Account(account_id=f"ACC-{owner.upper()}", owner=owner)


@tool()
async def read_notes(ctx: ToolContext[Runs], topic: str) -> Notes:
    """Read the team's notes on a topic.

    Args:
        topic: What the notes are about.
    """
    ctx.deps["read_notes"] += 1
    return Notes(text=f"notes on {topic}")


@tool(irreversible=True, side_effect=True)
async def close_account(ctx: ToolContext[Runs], account_id: str) -> Closed:
    """Close an account for good.

    Args:
        account_id: The account, e.g. ACC-ADA.
    """
    ctx.deps["close_account"] += 1
    return Closed(closure_id=f"CL-{account_id}", message=f"closed {account_id}")


def planning_agent(**changes: Any) -> Agent[Runs]:
    version = PromptVersion(version="plan-v1", text="You plan account work.", changelog="first")
    fields: dict[str, Any] = {
        "name": "planner_test",
        "instructions": Instructions(versions=(version,), current="plan-v1"),
        "tools": (find_account, read_notes, close_account),
        "mode": "plan",
        **changes,
    }
    return Agent[Runs](**fields)


def step(sid: str, tool_name: str, deps: tuple[str, ...] = (), **arguments: Any) -> dict[str, Any]:
    return {"id": sid, "tool": tool_name, "arguments": arguments, "depends_on": list(deps), "reason": "test"}


class ScriptedPlanner:
    """Answers each planning prompt with the next of `plans`, and the answer prompt from the results."""

    def __init__(self, *plans: list[dict[str, Any]] | str) -> None:
        self.plans = list(plans)
        self.asked: list[str] = []  # the planning prompts, as the model saw them

    def reply(self, messages: list[dict[str, Any]], tool_names: set[str]) -> ScriptedReply:
        last = str(messages[-1].get("content") or "")
        if last.startswith(prompts.PLAN_ANSWER[:40]):
            done = [f"{o.tool}: {json.dumps(o.data)}" for o in observations(messages) if not o.error]
            return ScriptedReply(content="Done. " + " | ".join(done))
        self.asked.append(last)
        plan = self.plans.pop(0) if self.plans else []
        return ScriptedReply(content=plan if isinstance(plan, str) else json.dumps({"steps": plan}))
