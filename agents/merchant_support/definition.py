"""The merchant payment-support agent: transactions, merchants, policy documents, tickets, refunds."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from agents.merchant_support.chat_stand_in import ChatPolicy
from agents.merchant_support.store import Store, open_store
from agents.merchant_support.tools import ESCALATE_TOOL, SPECS
from core.agent import Agent, ApproverRule, CriticPolicy, EscalationPolicy, Instructions
from core.triggers import EscalationTrigger

PROMPTS = Path(__file__).parent / "prompts"

# The merchant asks for a person, or is angry: escalating early beats a bot arguing with them.
HUMAN_REQUEST = (
    "human",
    "manager",
    "supervisor",
    "real person",
    "a person",
    "speak to someone",
    "talk to someone",
    "call me",
)
ANGER = (
    "furious",
    "angry",
    "outraged",
    "unacceptable",
    "ridiculous",
    "disgusting",
    "scam",
    "fraudsters",
    "lawyer",
    "sue you",
    "worst service",
    "fed up",
)

SUPERVISOR_ABOVE = Decimal("100.00")


def _above_supervisor_limit(args: Mapping[str, Any]) -> bool:
    try:
        return Decimal(str(args.get("amount", ""))) > SUPERVISOR_ABOVE
    except InvalidOperation:
        return True  # an amount nobody can read gets the stricter role


AGENT: Agent[Store] = Agent(
    name="merchant_support",
    description="Merchant payment support: payments, merchant accounts, policies, tickets, refunds.",
    instructions=Instructions.from_dir(
        PROMPTS, current="support-v3", task_template="Merchant support case:\n<case>\n{task}\n</case>"
    ),
    tools=SPECS,
    escalation=EscalationPolicy(
        tool=ESCALATE_TOOL,
        phrases={EscalationTrigger.CUSTOMER_REQUEST: HUMAN_REQUEST, EscalationTrigger.CUSTOMER_ANGER: ANGER},
    ),
    # The facts go under an answer that hides them, at once: the local model's second try costs a
    # whole reply and mostly repeats the first.
    critic=CriticPolicy(reported_fields=("refund_id", "ticket_id"), send_back=False),
    # Payment, refund, ticket and merchant ids, call ids and amounts survive every summary verbatim.
    keep_exact=(
        r"\b(?:pay_[A-Za-z0-9]+|re_[A-Za-z0-9]+|tkt_[A-Za-z0-9]+|esc_[A-Za-z0-9]+|MID\d+|t\d+-\d+)\b",
        r"(?<![\w.])\d+\.\d{2}(?!\w|\.\d)",
    ),
    deps=open_store,
    # The single-run rules, and inside a conversation the rules that read its memory.
    stand_in=ChatPolicy(),
    approvers=(
        ApproverRule("initiate_refund", "supervisor", _above_supervisor_limit, "refunds above 100.00"),
    ),
)
