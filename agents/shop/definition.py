"""The e-commerce customer-service agent: products, stock, orders, shipping and returns.

Everything here is the shop's own; budgets, approvals bound to arguments, breakers, loop detection
and the escalation machinery come with the runtime.
"""

from __future__ import annotations

from pathlib import Path

from agents.shop.deps import ShopDeps, open_shop
from agents.shop.stand_in import ShopPolicy
from agents.shop.tools import ESCALATE_TOOL, TOOLS
from core.agent import Agent, CriticPolicy, EscalationPolicy, EscalationTrigger, Instructions

# Whole words or phrases, case-insensitive: the shopper wants a person...
HUMAN_REQUEST = ("human", "real person", "a person", "manager", "supervisor", "speak to someone",
                 "talk to someone", "call me", "customer service agent")  # fmt: skip
# ...or is upset: a person calms a case a bot would argue with.
ANGER = ("furious", "angry", "outraged", "unacceptable", "ridiculous", "scam", "lawyer", "sue you",
         "worst service", "fed up", "never again")  # fmt: skip

# Identifiers a summary of old turns must keep verbatim: orders, products and SKUs, returns, tickets,
# tracking numbers, and amounts.
KEEP_EXACT = (
    r"\bORD-[0-9]{4,6}\b",
    r"\bPRD-[0-9]{4}\b",
    r"\b[A-Z]{3}-[0-9]{3}\b",
    r"\bRET-[0-9A-Z]{8,12}\b",
    r"\bTCK-[0-9A-Z]{10}\b",
    r"\b(?:JJD|DPD|3SPN|INP|COL)[0-9]{10}\b",
    r"\b[0-9]+\.[0-9]{2}\b",
)

AGENT: Agent[ShopDeps] = Agent(
    name="shop",
    description="E-commerce customer service: products, stock, orders, shipping and returns.",
    instructions=Instructions.from_dir(
        Path(__file__).parent / "prompts",
        current="shop-v2",
        task_template="Shopper's message:\n<message>\n{task}\n</message>",
    ),
    tools=TOOLS,
    escalation=EscalationPolicy(
        tool=ESCALATE_TOOL,
        phrases={EscalationTrigger.CUSTOMER_REQUEST: HUMAN_REQUEST, EscalationTrigger.CUSTOMER_ANGER: ANGER},
    ),
    critic=CriticPolicy(reported_fields=("return_id", "ticket_id")),
    keep_exact=KEEP_EXACT,
    deps=open_shop,
    stand_in=ShopPolicy(human_phrases=HUMAN_REQUEST + ANGER),
)
