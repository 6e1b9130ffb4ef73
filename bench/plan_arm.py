"""The retry benchmark's third arm: the bench agent in plan mode, under the same faults.

The model is the same competent bench model (bench/tasks.py: the one right call per task), asked for a
plan instead of a call. It meets the same model faults as the ReAct arms: on each planning reply
(turn n, counted as FaultyModel counts turns) the first step's tool name is hallucinated, or its
arguments malformed, with the same seeded draw `FaultyModel.corrupted(task, n)` and the same
replacement names and malformations. Like FaultyModel it then forgets its own mistakes: told of them,
it plans the intended call again. Tool faults come from the same FaultPlan (drawn per call id).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from activities.llm.scripted import ScriptedReply, ScriptedToolCall, first_user_text, observations
from bench.agents import BENCH
from bench.faults import FaultPlan, FaultyModel, hallucinated_names, malformed
from bench.tasks import BenchPolicy, answer_from, intended_call
from core.agent import Agent
from workflows import prompts

BENCH_PLAN: Agent[None] = dataclasses.replace(BENCH, mode="plan")
_TASK = re.compile(r"Task (\d+) \((search|calculate|summarise)\): ([^\n]+)")


class FaultyPlanner:
    """A `Policy` answering plan mode's prompts: a one-step plan (maybe corrupted), then the answer."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.faults = FaultyModel(BenchPolicy(), plan)  # its draws, so both arms meet the same ones

    def reply(self, messages: list[dict[str, Any]], tool_names: set[str]) -> ScriptedReply:
        match = _TASK.search(first_user_text(messages))
        if match is None:
            return ScriptedReply(content="I cannot tell which task this is.")
        task_id, kind, text = int(match.group(1)), match.group(2), match.group(3).strip()
        call = intended_call(kind, text)
        done = [o for o in observations(messages) if o.tool == call.name and o.error is None]
        last = str(messages[-1].get("content") or "")
        if last.startswith(prompts.PLAN_ANSWER[:40]):
            if not done:
                failed = [o.error for o in observations(messages) if o.tool == call.name]
                return ScriptedReply(
                    content=f"I could not complete {call.name}: {failed[-1] if failed else '?'}"
                )
            return ScriptedReply(content=answer_from(kind, done[-1].data))
        if done:  # a re-plan after the work is done: nothing more to run
            return ScriptedReply(content=json.dumps({"steps": []}))
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        step = self._corrupted(call, task_id, turn)
        one = {"id": "s1", "tool": step.name, "arguments": step.arguments, "reason": f"the {kind} task"}
        return ScriptedReply(content=json.dumps({"steps": [one]}))

    def _corrupted(self, call: ScriptedToolCall, task_id: int, turn: int) -> ScriptedToolCall:
        fault = self.faults.corrupted(task_id, turn)
        if fault == "hallucinate":
            name = self.plan.pick(hallucinated_names(call.name), task_id, turn, "name")
            return ScriptedToolCall(name=name, arguments=call.arguments)
        if fault == "malform":
            return malformed(self.plan, call, task_id, turn)
        return call
