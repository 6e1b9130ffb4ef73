"""What the shop's tests share: a seeded store in a tmp dir, tool calls as the engine makes them, and a
small loop that plays the stand-in policy against the real tools (no Temporal: the engine's tests
cover the workflow; these cover the shop's own code)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from activities.llm.scripted import ScriptedReply
from agents.shop import AGENT
from agents.shop.deps import ShopDeps
from agents.shop.store import ShopStore
from core.errors import AgentError
from core.toolspec import ToolContext, ToolSpec
from workflows import observations


@dataclass
class Shop:
    store: ShopStore
    day: date  # the seed day; the clock is pinned to it plus `days_later`
    days_later: int = 0

    @property
    def today(self) -> date:
        return self.day + timedelta(days=self.days_later)

    def deps(self) -> ShopDeps:
        return ShopDeps(store=self.store, today=lambda: self.today)

    def ctx(self, key: str = "wf-1:c1") -> ToolContext[ShopDeps]:
        workflow_id, call_id = key.split(":")
        return ToolContext(workflow_id=workflow_id, call_id=call_id, idempotency_key=key, deps=self.deps())

    async def call(self, tool: str | ToolSpec, args: dict[str, Any], key: str = "wf-1:c1") -> Any:
        """Validate as the engine does (InvalidInputError), then run the handler."""
        spec = AGENT.registry.get(tool) if isinstance(tool, str) else tool
        return await spec.handler(self.ctx(key), spec.validate(args))

    async def precheck(self, tool: str, args: dict[str, Any], key: str = "wf-1:c1") -> Any:
        spec = AGENT.registry.get(tool)
        assert spec.precheck is not None
        return await spec.precheck(self.ctx(key), spec.validate(args))


async def open_test_shop(tmp_path: Path) -> Shop:
    store = await ShopStore.open_async(tmp_path)
    return Shop(store=store, day=await store.seed_day())


@dataclass
class Conversation:
    """The OpenAI-style messages the scripted model reads, and every reply it gave."""

    messages: list[dict[str, Any]]
    replies: list[ScriptedReply] = field(default_factory=list)

    @property
    def answer(self) -> str:
        return self.replies[-1].content

    def calls(self) -> list[str]:
        return [c.name for r in self.replies for c in r.tool_calls]


async def converse(shop: Shop, task: str, *, max_turns: int = 6, approve: bool = True) -> Conversation:
    """Play the agent's stand-in against the real tools: each call validated, prechecked, run, observed."""
    assert AGENT.stand_in is not None
    prompt = AGENT.instructions.text()
    user = AGENT.instructions.task_template.format(task=task)
    convo = Conversation(messages=[{"role": "system", "content": prompt}, {"role": "user", "content": user}])
    names = set(AGENT.registry.names())
    for turn in range(max_turns):
        reply = AGENT.stand_in.reply(convo.messages, names)
        convo.replies.append(reply)
        if not reply.tool_calls:
            return convo
        calls = [(f"call_{turn}_{i}", c.name, c.arguments) for i, c in enumerate(reply.tool_calls)]
        convo.messages.append(
            {
                "role": "assistant",
                "content": reply.content or None,
                "tool_calls": [
                    {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                    for i, n, a in calls
                ],
            }
        )
        for call_id, name, args in calls:
            text = await _observe(
                shop, name, args if isinstance(args, dict) else {}, f"wf-1:{call_id}", approve
            )
            convo.messages.append({"role": "tool", "tool_call_id": call_id, "name": name, "content": text})
    return convo


async def _observe(shop: Shop, name: str, args: dict[str, Any], key: str, approve: bool) -> str:
    try:
        spec = AGENT.registry.get(name)
        parsed = spec.validate(args)
        if spec.precheck is not None:
            await spec.precheck(shop.ctx(key), parsed)
        if spec.irreversible and not approve:
            return observations.failure("PermissionDeniedError", "a human denied this call: not approved")
        result: BaseModel = await spec.handler(shop.ctx(key), parsed)
    except AgentError as err:
        return observations.failure(err.type_name, err.message, err.details)
    return observations.success(result.model_dump(mode="json"))
