"""Merchant payment support, the first demo agent: `AGENT_APPS=agents.merchant_support:AGENT`."""

from agents.merchant_support.definition import AGENT
from agents.merchant_support.store import Store

__all__ = ["AGENT", "Store"]
