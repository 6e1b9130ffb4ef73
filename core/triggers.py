"""Why a run hands its case to a human: one enum, shared by agent definitions and results."""

from __future__ import annotations

from enum import StrEnum


class EscalationTrigger(StrEnum):
    """Why a run handed its case to a human."""

    MODEL = "model"  # the model called the agent's escalation tool
    APPROVAL_TIMEOUT = "approval_timeout"
    REPEATED_FAILURE = "repeated_failure"
    CUSTOMER_REQUEST = "customer_request"  # the user asked for a person
    CUSTOMER_ANGER = "customer_anger"
    LOOP = "loop"
    BUDGET = "budget"
