"""The turns of one run: think, then act on the proposed calls (workflows/agent.py drives it; a
conversation's message runs it too, workflows/conversation_turn.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core import models as m
    from workflows import carry, critic, prompts
    from workflows.acting import ToolRunner
    from workflows.config import RunConfig
    from workflows.escalation import Escalator
    from workflows.guard import Guard
    from workflows.limits import Limits
    from workflows.outcome import Stop
    from workflows.routing import renumber, route
    from workflows.state import AgentState
    from workflows.thinking import Thinker, nudge_for


CRITIC_SEND_BACK_PATCH = "critic-send-back-policy"


@dataclass
class Loop:
    """The turns of one run: think, then act on the proposed calls; raises Stop to end the run."""

    config: RunConfig
    state: AgentState
    guard: Guard
    limits: Limits
    escalator: Escalator
    runner: ToolRunner
    thinker: Thinker
    calls_done: Callable[[list[m.ToolCallRecord]], None]  # progress lines, search attributes

    async def turns(self, continue_as_new: Callable[[Guard, str], Awaitable[None]]) -> None:
        state = self.state
        if resumed := state.resume_calls:  # a fork: the approvals pending at its fork point, asked again
            state.resume_calls = ()
            await self._act(state.turn, resumed)
        while state.turn < state.turn_limit:
            self.escalator.check_cancel()
            if carry.due(state.turn - state.run_first_turn, self.guard):
                await continue_as_new(self.guard, self.config.prompt_version)
            state.turn += 1
            await self._step(state.turn)

    async def _step(self, turn: int) -> None:
        state = self.state
        reply = await self.thinker.think(turn)
        nudge = nudge_for(reply)
        if nudge is not None:
            if reply.rejected is None:  # a refused reply keeps none of its text
                state.messages.append(m.ChatMessage(role="assistant", content=reply.content))
            state.messages.append(m.ChatMessage(role="user", content=nudge))
            return
        if not reply.tool_calls:
            self._final_answer(turn, reply.content.strip())
            return
        calls = renumber(reply.tool_calls, turn)
        state.messages.append(m.ChatMessage(role="assistant", content=reply.content, tool_calls=calls))
        await self._act(turn, calls)

    async def _act(self, turn: int, calls: tuple[m.ToolCall, ...]) -> None:
        state = self.state
        routed = [route(call, self.config.agent.registry) for call in calls]
        await self.limits.tool_calls(len(routed))
        # Independent calls run in parallel; observations return in call order.
        records = list(await asyncio.gather(*(self.runner.run(turn, r) for r in routed)))
        for record, one in zip(records, routed, strict=True):
            state.calls.append(record)
            declared = one.spec.truncation if one.spec is not None else None
            text = self.guard.observation(record.tool, record.observation, declared)
            state.messages.append(
                m.ChatMessage(role="tool", content=text, tool_call_id=record.call_id, name=record.tool)
            )
        self.calls_done(records)
        await self.limits.after_results(records)
        await self.escalator.after_calls(records)

    def _sends_back(self) -> bool:
        # Runs recorded before CriticPolicy.send_back always sent the answer back once. The patch may
        # go once no history from before 2026-12 is replayed (tests/histories included).
        return self.config.agent.critic.send_back or not workflow.patched(CRITIC_SEND_BACK_PATCH)

    def _final_answer(self, turn: int, answer: str) -> None:
        """End the run with the model's answer, once the critic finds every action stated in it."""
        state, agent = self.state, self.config.agent
        missing = critic.unreported(answer, state.calls, agent.irreversible, agent.critic)
        if missing and not state.critiqued and turn < state.turn_limit and self._sends_back():
            state.critiqued = True
            state.messages.append(m.ChatMessage(role="assistant", content=answer))
            facts = prompts.CRITIC_REPLY.format(facts=" ".join(missing))
            state.messages.append(m.ChatMessage(role="user", content=facts))
            return
        if missing:
            # Still missing after one chance: state the facts rather than let the answer hide them.
            answer = f"{answer}\n\nActions taken: {' '.join(missing)}"
        denied = any(c.outcome == m.ToolOutcome.DENIED for c in state.calls)
        acted = any(c.outcome == m.ToolOutcome.OK and c.tool in agent.irreversible for c in state.calls)
        raise Stop(m.RunState.DENIED if denied and not acted else m.RunState.COMPLETED, answer, None)
