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

import hashlib
import json
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
from core.toolspec import ToolRegistry, ToolSpec
from core.triggers import EscalationTrigger

D = TypeVar("D")
AGENT_NAME = r"^[a-z][a-z0-9_]{0,47}$"
VERSION_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


@dataclass(frozen=True)
class PromptVersion:
    version: str
    text: str
    changelog: str
    # Said to the model as a last user message once a call with side effects has succeeded, when
    # the next reply is most likely the answer: a small model keeps a reminder at the end of its prompt,
    # where the system prompt's rule on the answer's form is 2,000 tokens back (activities/llm/expand.py).
    after_action: str | None = None


STABLE, CANARY, PINNED = "stable", "canary", "pinned"  # the channel a run's prompt version came from
CHANNELS_FILE = "channels.json"


def canary_bucket(workflow_id: str) -> int:
    """0..99, the same for a workflow id on every worker and every replay (no randomness, no clock)."""
    return int(hashlib.sha256(workflow_id.encode()).hexdigest()[:8], 16) % 100


@dataclass(frozen=True)
class Channels:
    """Which prompt version new runs get: `stable`, and `canary` for `canary_percent` of workflow ids.

    Promote: `stable` becomes the canary's version and `canary` goes; rollback: `canary` goes (or 0 %).
    Both are configuration (`prompts/channels.json`), read when the worker starts; a run keeps the
    version it started with.
    """

    stable: str
    canary: str | None = None
    canary_percent: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.canary_percent <= 100:
            raise ValueError(f"canary_percent {self.canary_percent} must be within 0..100")

    def choose(self, workflow_id: str) -> tuple[str, str]:
        """(version, channel) of a new run with this workflow id."""
        if self.canary and canary_bucket(workflow_id) < self.canary_percent:
            return self.canary, CANARY
        return self.stable, STABLE


@dataclass(frozen=True)
class Instructions:
    """Versioned system prompts: a change of wording is a new version, with a changelog entry."""

    versions: tuple[PromptVersion, ...]
    current: str
    # How the user's task is put to the model; the part before {task} stays byte-identical across
    # runs, so a model server's prefix cache keeps matching.
    task_template: str = "{task}"
    # None: every run gets `current` (the stable channel).
    channels: Channels | None = None

    def __post_init__(self) -> None:
        names = [v.version for v in self.versions]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate prompt version in {names}")
        bad = [n for n in names if not re.match(VERSION_NAME, n)]
        if bad:
            raise ValueError(f"prompt versions {bad} must match {VERSION_NAME}")
        if self.current not in names:
            raise ValueError(f"current prompt version {self.current!r} is not one of {names}")
        if "{task}" not in self.task_template:
            raise ValueError("task_template must contain {task}")
        if any(not v.changelog.strip() for v in self.versions):
            raise ValueError("every prompt version needs a changelog entry")
        if self.channels is not None:
            named = {self.channels.stable, self.channels.canary or self.channels.stable}
            if unknown := sorted(named - set(names)):
                raise ValueError(f"channels name prompt versions {unknown} that are not among {names}")
            if self.channels.stable != self.current:
                raise ValueError(f"current {self.current!r} must be the stable channel's version")

    @property
    def rollout(self) -> Channels:
        return self.channels or Channels(stable=self.current)

    def knows(self, version: str) -> bool:
        return any(v.version == version for v in self.versions)

    def text(self, version: str | None = None) -> str | None:
        found = self.version(version)
        return found.text if found else None

    def version(self, version: str | None = None) -> PromptVersion | None:
        wanted = version or self.current
        return next((v for v in self.versions if v.version == wanted), None)

    @classmethod
    def from_dir(cls, directory: Path, current: str, task_template: str = "{task}") -> Instructions:
        """Every `<version>.md` file: a `changelog:` first line, an optional `after_action:` line
        (PromptVersion.after_action), a blank line, then the prompt.

        A `channels.json` beside them ({"stable": …, "canary": …, "canary_percent": …}) is the
        rollout's configuration, and its stable version then is the current one.
        """
        versions = tuple(_read_version(path) for path in sorted(directory.glob("*.md")))
        channels = _read_channels(directory / CHANNELS_FILE)
        current = channels.stable if channels else current
        return cls(versions=versions, current=current, task_template=task_template, channels=channels)


def _read_channels(path: Path) -> Channels | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Channels(
            stable=str(data["stable"]),
            canary=str(data["canary"]) if data.get("canary") else None,
            canary_percent=int(data.get("canary_percent", 0)),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: expected {{stable, canary?, canary_percent?}}: {exc}") from None


HEADER_KEYS = ("changelog", "after_action")


def _read_version(path: Path) -> PromptVersion:
    head, _, body = path.read_text(encoding="utf-8").partition("\n\n")
    fields = {}
    for line in head.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip().lower()] = value.strip()
    if list(fields)[:1] != ["changelog"] or not body.strip() or set(fields) - set(HEADER_KEYS):
        raise ValueError(
            f"{path}: expected 'changelog: …', an optional 'after_action: …' line, a blank line, "
            "then the prompt"
        )
    return PromptVersion(
        version=path.stem,
        text=body.strip(),
        changelog=fields["changelog"],
        after_action=fields.get("after_action") or None,
    )


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
