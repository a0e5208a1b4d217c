"""Escalation and credit intentions, split by subject; callers import from here."""

import datetime as dt

# Credits and refunds (issue 12)
from .credits import (
    apply_credit,
    approve_credit,
    authority_refusal,
    cancel_credit,
    clean_amount,
    credit_rules_for,
    reject_credit,
    request_credit,
)

# Metrics and reviews (issue 15)
from .metrics import complete_review_action, record_review

__all__ = [
    "due_work",
    # Credits and refunds (issue 12)
    "apply_credit",
    "approve_credit",
    "authority_refusal",
    "cancel_credit",
    "clean_amount",
    "credit_rules_for",
    "reject_credit",
    "request_credit",
    # Metrics and reviews (issue 15)
    "complete_review_action",
    "record_review",
]


def due_work(now: dt.datetime) -> dict[str, int]:
    """Fire the escalation app's time-based work: triggers, reminders, check-ins."""
    return {}
