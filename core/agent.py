"""An agent definition: what a team writes to put its own agent on this runtime.

    AGENT = Agent(
        name="my_agent",
        instructions=Instructions.from_dir(Path(__file__).parent / "prompts", current="v1"),
        tools=(lookup, refund),            # ToolSpecs, or typed functions made tools with @tool
        model="gpt-4o-mini",               # a name in the worker's model registry; None: its default
        deps=open_my_store,                # built once per worker, closed at shutdown
    )

Served by a worker through `AGENT_APPS=my_pkg.agent:AGENT` (or `build_worker(client, agents=[…])`),
started with `starter.py run --agent my_agent`. Budgets, approvals bound to arguments, breakers,
loop detection and escalation come with the runtime; the definition only says what is the agent's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from core.conversation import ConversationPolicy
from core.errors import InvalidInputError
from core.guardrails import ContextSettings, RunBudgets
from core.llm import ToolSchema
from core.models import AgentLimits
from core.plans import Mode, PlanPolicy
from core.prompts import CANARY as CANARY
from core.prompts import PINNED as PINNED
from core.prompts import STABLE as STABLE
from core.prompts import Channels as Channels
from core.prompts import Instructions as Instructions
from core.prompts import PromptVersion as PromptVersion
from core.prompts import canary_bucket as canary_bucket
from core.toolspec import ToolRegistry, ToolSpec
from core.triggers import EscalationTrigger

D = TypeVar("D")
AGENT_NAME = r"^[a-z][a-z0-9_]{0,47}$"


@dataclass(frozen=True)
class EscalationPolicy:
    """When the agent hands a case to a human, and with which of its tools it opens the ticket.

    The engine calls that tool with exactly `{"reason": …, "summary": …}` (strings, ≤ 1000 and ≤ 5000
    characters) and reads `ticket_id` from its result; the definition is refused unless they validate.
    """

    tool: str | None = None
    # Trigger → words or phrases in the user's message (whole words, case-insensitive).
    phrases: Mapping[EscalationTrigger, tuple[str, ...]] = field(default_factory=dict)
    # Also escalate on a run of this many exclamation marks (anger), 0 to disable.
    exclamations: int = 3
    repeated_failures: int = 2  # classified failures of one tool before a human takes over


@dataclass(frozen=True)
class CriticPolicy:
    """What a final answer must mention: the identifiers these result fields of irreversible tools hold."""

    reported_fields: tuple[str, ...] = ()
    # The result field holding the sentence the answer is given when it leaves the action out.
    sentence_field: str = "message"
    # Send such an answer back to the model once before stating the facts under it. False: state
    # them at once; a small local model mostly writes the same answer again, at a whole reply's cost.
    send_back: bool = True


@dataclass(frozen=True)
class ApproverRule:
    """Who may decide a call of one irreversible tool: a holder of `role`, when `applies(args)` is
    true (always, when it is None). Enforced by the authenticated front door (api/), which also
    keeps the run's starter from approving it; Temporal's own access is the operator's path."""

    tool: str
    role: str
    applies: Callable[[Mapping[str, Any]], bool] | None = field(default=None, compare=False)
    description: str = ""

    def needed_for(self, tool: str, args: Mapping[str, Any]) -> str | None:
        """The role this rule asks of a call, or None when the rule does not apply to it."""
        if tool != self.tool or (self.applies is not None and not self.applies(args)):
            return None
        return self.role


@dataclass(frozen=True)
class AgentEnv:
    """What a worker gives an agent's dependency factory."""

    data_dir: Path
    settings: Any = None  # core.config.Settings


DepsFactory = Callable[[AgentEnv], AbstractAsyncContextManager[D]]


class StandIn(Protocol):
    """A deterministic scripted model for tests and the scripted provider (activities/llm/scripted.py)."""

    def reply(self, messages: list[dict[str, Any]], tool_names: set[str]) -> Any: ...


@dataclass(frozen=True)
class Agent(Generic[D]):
    name: str
    instructions: Instructions
    tools: tuple[ToolSpec, ...]
    model: str | None = None
    limits: AgentLimits = field(default_factory=AgentLimits)
    budgets: RunBudgets = field(default_factory=RunBudgets)
    context: ContextSettings = field(default_factory=ContextSettings)
    escalation: EscalationPolicy = field(default_factory=EscalationPolicy)
    critic: CriticPolicy = field(default_factory=CriticPolicy)
    # Patterns of identifiers (ids, amounts) a summary of old turns must keep verbatim.
    keep_exact: tuple[str, ...] = ()
    deps: DepsFactory[D] | None = field(default=None, compare=False)
    stand_in: StandIn | None = field(default=None, compare=False)
    description: str = ""
    # How it converses in a ConversationWorkflow: double-texting, idle timeout, memory sizes.
    conversation: ConversationPolicy = field(default_factory=ConversationPolicy)
    # "plan": one planner call, the plan checked and run as code (workflows/planning.py); "react": the
    # loop of workflows/agent.py. `mode_for`, when set, routes each task by code instead (it must be
    # deterministic: it runs in workflow code).
    mode: Mode = "react"
    mode_for: Callable[[str], Mode] | None = field(default=None, compare=False)
    planning: PlanPolicy = field(default_factory=PlanPolicy)
    # Roles an approver needs beyond the front door's default (core/agent.py: ApproverRule).
    approvers: tuple[ApproverRule, ...] = ()

    def __post_init__(self) -> None:
        if not re.match(AGENT_NAME, self.name):
            raise ValueError(f"agent name {self.name!r} must match {AGENT_NAME}")
        registry = ToolRegistry(list(self.tools))  # raises on a duplicate tool name
        if self.escalation.tool is not None:
            _check_escalation_tool(self.name, registry, self.escalation.tool)
        for pattern in self.keep_exact:
            re.compile(pattern)
        for rule in self.approvers:
            if rule.tool not in self.irreversible:
                raise ValueError(f"{self.name}: approver rule for {rule.tool!r}, not an irreversible tool")

    @cached_property
    def registry(self) -> ToolRegistry:
        return ToolRegistry(list(self.tools))

    @cached_property
    def schemas(self) -> tuple[ToolSchema, ...]:
        """What the model sees of the tools; built once per process (a JSON schema per tool)."""
        return self.registry.schemas()

    @cached_property
    def irreversible(self) -> frozenset[str]:
        return frozenset(spec.name for spec in self.tools if spec.irreversible)

    def mode_of(self, task: str) -> Mode:
        return self.mode_for(task) if self.mode_for is not None else self.mode

    def activity_name(self, spec: ToolSpec, precheck: bool = False) -> str:
        """`tool.<agent>.<tool>`: two agents' tools of one name never share an activity."""
        return f"tool.{self.name}.{spec.name}" + (".precheck" if precheck else "")


def _check_escalation_tool(agent: str, registry: ToolRegistry, tool: str) -> None:
    if tool not in registry.names():
        raise ValueError(f"{agent}: escalation tool {tool!r} is not one of its tools")
    try:
        registry.get(tool).validate({"reason": "r", "summary": "s"})
    except InvalidInputError as err:
        why = f"{agent}: escalation tool {tool!r} must accept just reason and summary: {err.details}"
        raise ValueError(why) from None
