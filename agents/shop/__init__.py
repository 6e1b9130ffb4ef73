"""The e-commerce customer-service demo agent; served with `AGENT_APPS=agents.shop:AGENT`."""

from agents.shop.definition import AGENT
from agents.shop.deps import ShopDeps, open_shop
from agents.shop.stand_in import ShopPolicy
from agents.shop.store import ShopStore

__all__ = ["AGENT", "ShopDeps", "ShopPolicy", "ShopStore", "open_shop"]
