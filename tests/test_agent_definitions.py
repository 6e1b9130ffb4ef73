"""Agent definitions and what a worker serves: typed tools from functions, and every bad definition
refused in one line at worker start (AGENT_APPS, AGENT_MODELS), never in the middle of a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from activities.llm.registry import parse_models
from core.agent import Agent, EscalationPolicy, Instructions, PromptVersion
from core.apps import load_agents
from core.config import ConfigError
from core.function_tools import function_tool, tool
from core.toolspec import ToolContext
from tests.conftest import DEMO

ROOT = Path(__file__).resolve().parents[1]
V1 = Instructions(versions=(PromptVersion("v1", "Be useful.", "First."),), current="v1")


class Echo(BaseModel):
    text: str


@tool(timeout=__import__("datetime").timedelta(seconds=5))
async def shout(ctx: ToolContext[None], text: str, times: int = 2) -> Echo:
    """Repeat a text loudly.

    Args:
        text: What to repeat.
        times: How often, e.g. 3.
    """
    return Echo(text=(text.upper() + " ") * times)


def test_a_function_tool_takes_its_schema_from_signature_and_docstring() -> None:
    schema = shout.schema()
    assert (schema.name, schema.description) == ("shout", "Repeat a text loudly.")
    props = schema.parameters["properties"]
    assert props["text"]["description"] == "What to repeat." and props["times"]["default"] == 2
    assert schema.parameters["required"] == ["text"] and schema.parameters["additionalProperties"] is False
    assert shout.timeout.total_seconds() == 5


class Note(BaseModel):
    title: str
    body: str | None = None


@tool()
async def write_note(ctx: ToolContext[None], note: Note) -> Echo:
    """Write a note."""
    return Echo(text=note.title)


def test_the_model_reads_no_pydantic_titles_but_a_field_named_title_stays() -> None:
    rendered = json.dumps(write_note.schema().parameters)
    assert '"title": "' not in rendered  # no title keyword, anywhere (nested models included)
    note = write_note.schema().parameters
    assert "title" in json.dumps(note["$defs"]["Note"]["properties"])
    assert note["$defs"]["Note"]["required"] == ["title"]


async def test_a_function_tool_runs_with_validated_arguments() -> None:
    ctx: ToolContext[None] = ToolContext("w", "c", "w:c", None)
    assert (await shout.handler(ctx, shout.validate({"text": "hi"}))).model_dump() == {"text": "HI HI "}


def test_what_cannot_be_a_tool_is_refused_when_declared() -> None:
    def sync(ctx: ToolContext[None], a: int) -> Echo:
        return Echo(text="")

    async def undocumented(ctx: ToolContext[None], a: int) -> Echo:
        return Echo(text="")

    async def untyped(ctx: ToolContext[None], a) -> Echo:
        """Does a thing."""
        return Echo(text="")

    async def returns_text(ctx: ToolContext[None], a: int) -> str:
        """Does a thing."""
        return ""

    for fn, why in (
        (sync, "async"),
        (undocumented, "docstring"),
        (untyped, "annotation"),
        (returns_text, "pydantic"),
    ):
        with pytest.raises((TypeError, ValueError), match=why):
            function_tool(fn)  # type: ignore[arg-type]


def test_a_definition_is_checked_when_it_is_made() -> None:
    with pytest.raises(ValueError, match="duplicate tool name"):
        Agent(name="twice", instructions=V1, tools=(shout, shout))
    with pytest.raises(ValueError, match="must match"):
        Agent(name="Bad Name", instructions=V1, tools=())
    with pytest.raises(ValueError, match="changelog"):
        Instructions(versions=(PromptVersion("v1", "x", " "),), current="v1")
    with pytest.raises(ValueError, match="not one of"):
        Instructions(versions=(PromptVersion("v1", "x", "y"),), current="v2")


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ("", "AGENT_APPS is empty"),
        ("agents.merchant_support", "expected package.module:NAME"),
        ("no_such_package.mod:AGENT", "cannot import no_such_package.mod"),
        ("agents.merchant_support:NOPE", "is nothing, not an Agent"),
        ("agents.merchant_support:Store", "is type, not an Agent"),
        (
            "agents.merchant_support:AGENT,agents.merchant_support:AGENT",
            "two agents are named 'merchant_support'",
        ),
    ],
)
def test_a_bad_agent_apps_entry_is_named(spec: str, said: str) -> None:
    with pytest.raises(ConfigError, match=said.replace("(", r"\(")):
        load_agents(spec)


def test_an_agent_apps_entry_loads_its_agent() -> None:
    assert load_agents(" tests.outside_agent:AGENT , agents.merchant_support:AGENT") == [
        load_agents("tests.outside_agent:AGENT")[0],
        DEMO,
    ]


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"AGENT_APPS": "nowhere:AGENT"}, "worker: AGENT_APPS entry 'nowhere:AGENT': cannot import nowhere"),
        ({"AGENT_MODELS": "[{"}, "worker: AGENT_MODELS is not JSON"),
    ],
)
def test_the_worker_refuses_a_bad_setting_in_one_line_before_it_connects(
    env: dict[str, str], said: str
) -> None:
    full = {**os.environ, "LLM_PROVIDER": "scripted", "TEMPORAL_ADDRESS": "127.0.0.1:1", **env}
    done = subprocess.run(
        [sys.executable, "worker.py"],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1 and lines[0].startswith(said), done.stderr


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("{}", "must be a JSON list"),
        ('[{"name": "a", "base_url": "http://x/v1"}]', "missing ['model']"),
        ('[{"name": "a", "base_url": "u", "model": "m", "key": "k"}]', "unknown ['key']"),
        ('[{"name": "a", "base_url": "u", "model": "m", "price": "free"}]', "price 'free'"),
        (
            '[{"name": "a", "base_url": "u", "model": "m"}, {"name": "a", "base_url": "v", "model": "n"}]',
            "twice",
        ),
    ],
)
def test_bad_agent_models_are_refused(text: str, said: str) -> None:
    with pytest.raises(ConfigError, match=said.replace("[", r"\[").replace("]", r"\]")):
        parse_models(text)


def test_the_escalation_tool_must_take_just_reason_and_summary() -> None:
    @tool()
    async def hand_over(ctx: ToolContext[None], reason: str, summary: str, priority: int) -> Echo:
        """Hand the case over.

        Args:
            reason: Why.
            summary: What was asked.
            priority: How urgent, a number
                from 1 to 5 (a description may go on).
        """
        return Echo(text=reason)

    assert "from 1 to 5" in hand_over.schema().parameters["properties"]["priority"]["description"]
    with pytest.raises(ValueError, match="must accept just reason and summary"):
        Agent(name="desk", instructions=V1, tools=(hand_over,), escalation=EscalationPolicy(tool="hand_over"))
