"""Every toolset a deployment offers, by name; a run picks one (`AgentRequest.toolset`)."""

from __future__ import annotations

from activities.tools.catalog import REGISTRY as SUPPORT
from core.toolspec import ToolRegistry

DEFAULT_TOOLSET = "support"
TOOLSETS: dict[str, ToolRegistry] = {DEFAULT_TOOLSET: SUPPORT}
