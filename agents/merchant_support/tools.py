"""The merchant-support tools, each declared once (schema, validation, approval, retries, breaker).

Importing this module opens nothing: handlers receive the store through ToolContext at run time.
"""

from __future__ import annotations

from datetime import timedelta

from agents.merchant_support import domain
from agents.merchant_support.models import (
    CreateSupportTicketArgs,
    EscalateToHumanArgs,
    GetMerchantAccountArgs,
    GetTransactionArgs,
    InitiateRefundArgs,
    SearchKnowledgeBaseArgs,
)
from core.toolspec import ToolRegistry, ToolSpec

ESCALATE_TOOL = "escalate_to_human"
# No demo tool is `local` (ToolSpec.local), though the three lookups would qualify: a local activity
# saves ~8 ms per step (bench/overhead.py), nothing next to a model turn of seconds, while a regular one
# shows each attempt in history, the UI, `starter.py trace` and the activity metrics the operator reads.

GET_TRANSACTION = ToolSpec(
    name="get_transaction",
    description=(
        "Look up one card payment by its id (ids look like pay_ABC123). Returns merchant id, amount, "
        "currency, status, card fingerprint, time, amount already refunded, the refundable amount, and "
        "possible_duplicates: other payments by the same card for the same amount within 10 minutes."
    ),
    args_model=GetTransactionArgs,
    handler=domain.get_transaction,
    truncation="head",
    timeout=timedelta(seconds=10),
    max_attempts=5,
    # Read-only: a conversation answers the same lookup again from its cache for 5 minutes.
    cache_ttl_s=300,
)

GET_MERCHANT_ACCOUNT = ToolSpec(
    name="get_merchant_account",
    description=(
        "Look up a merchant by id (ids look like MID001). Returns name, status (active or suspended), "
        "country, currency, plan, contact email and the 5 most recent payments. Only for a question "
        "about the account itself: a payment's case needs get_transaction alone."
    ),
    args_model=GetMerchantAccountArgs,
    handler=domain.get_merchant_account,
    truncation="head",
    timeout=timedelta(seconds=10),
    max_attempts=5,
    # Read-only: a conversation answers the same lookup again from its cache for 5 minutes.
    cache_ttl_s=300,
)

SEARCH_KNOWLEDGE_BASE = ToolSpec(
    name="search_knowledge_base",
    description=(
        "Search the support policy documents with plain keywords, e.g. 'duplicate charge refund' or "
        "'payout schedule'. Returns the best matching documents with a short snippet. Check policy "
        "before refunding."
    ),
    args_model=SearchKnowledgeBaseArgs,
    handler=domain.search_knowledge_base,
    # When the store is down the model still gets the gist of the policies, marked degraded.
    fallback=domain.cached_kb_search,
    truncation="records",  # whole documents, never half of one
    timeout=timedelta(seconds=10),
    max_attempts=5,
)

CREATE_SUPPORT_TICKET = ToolSpec(
    name="create_support_ticket",
    description=(
        "Open a support ticket for a merchant (merchant_id like MID001) with a short subject, a body "
        "and a priority: low, normal, high or urgent. Returns the ticket id."
    ),
    args_model=CreateSupportTicketArgs,
    handler=domain.create_support_ticket,
    side_effect=True,
    timeout=timedelta(seconds=10),
    max_attempts=5,
)

INITIATE_REFUND = ToolSpec(
    name="initiate_refund",
    description=(
        "Refund money to the card of one payment (transaction_id like pay_ABC123). amount is in major "
        'units as a string, e.g. "49.99" (not cents), and currency must be the payment\'s currency, '
        "e.g. USD. Cannot exceed the refundable amount from get_transaction. Irreversible: a human must "
        "approve it first."
    ),
    args_model=InitiateRefundArgs,
    handler=domain.initiate_refund,
    precheck=domain.check_refund,
    irreversible=True,
    side_effect=True,
    timeout=timedelta(seconds=10),
    max_attempts=5,
)

ESCALATE_TO_HUMAN = ToolSpec(
    name=ESCALATE_TOOL,
    description=(
        "Hand the case to a human support agent when policy is unclear, the merchant is suspended, or "
        "you cannot help. Give the reason, a summary of what was asked and checked, and the merchant_id "
        "(like MID001) if known."
    ),
    args_model=EscalateToHumanArgs,
    handler=domain.escalate_to_human,
    side_effect=True,
    timeout=timedelta(seconds=10),
    max_attempts=5,
)

SPECS: tuple[ToolSpec, ...] = (
    GET_TRANSACTION,
    GET_MERCHANT_ACCOUNT,
    SEARCH_KNOWLEDGE_BASE,
    CREATE_SUPPORT_TICKET,
    INITIATE_REFUND,
    ESCALATE_TO_HUMAN,
)
REGISTRY = ToolRegistry(list(SPECS))
