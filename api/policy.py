"""Who may decide an approval: the authenticated identity, with the roles the agent's definition asks.

Every decision needs APPROVER; an agent's ApproverRule may ask more of some calls (core/agent.py).
Four eyes: neither the identity that started a run nor the user it acts for may decide its calls.
An agent this API does not serve has no known policy, so nobody may decide its calls here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from api.tokens import Identity
from core.agent import Agent
from core.errors import PermissionDeniedError

APPROVER = "approver"
# May read, post to and close any thread (api/thread_service.py), not only those it started.
SUPERVISOR = "supervisor"


def roles_needed(agent: Agent[Any] | None, tool: str, args: Mapping[str, Any]) -> tuple[str, ...]:
    extra = (rule.needed_for(tool, args) for rule in agent.approvers) if agent else ()
    return tuple(sorted({APPROVER, *(role for role in extra if role)}))


def check_may_decide(
    identity: Identity,
    agent: Agent[Any] | None,
    tool: str,
    args: Mapping[str, Any],
    starters: tuple[str | None, ...],
) -> None:
    """PermissionDeniedError unless `identity` may decide this call; `starters`: who started the run
    and whom it acts for."""
    if agent is None:
        raise PermissionDeniedError(
            "this API does not serve the run's agent, so its approval policy is unknown"
        )
    if identity.name in starters:
        raise PermissionDeniedError(f"{identity.name} started this run (or it acts for them): four eyes")
    missing = [role for role in roles_needed(agent, tool, args) if role not in identity.roles]
    if missing:
        raise PermissionDeniedError(f"deciding {tool} here needs the role(s) {', '.join(missing)}")
