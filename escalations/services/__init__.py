"""Escalation and credit intentions, split by subject; callers import from here."""

import datetime as dt

# Escalation routing (issue 11); automation rules (issue 14)
from . import automation, routing

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
from .routing import (
    acknowledge_escalation,
    approve_escalation,
    file_bug_report,
    record_tracker_key,
    reject_escalation,
    request_escalation,
    resolve_escalation,
    return_escalation,
)

__all__ = [
    "due_work",
    # Escalation routing (issue 11)
    "acknowledge_escalation",
    "approve_escalation",
    "file_bug_report",
    "record_tracker_key",
    "reject_escalation",
    "request_escalation",
    "resolve_escalation",
    "return_escalation",
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
    """Fire the escalation app's time-based work: triggers, reminders, check-ins,
    and the automation rules (silence, deadlines, auto-close)."""
    done: dict[str, int] = {}
    done.update(routing.due_work(now))
    # After routing, so a policy's own "SLA breach imminent" rule escalates
    # first and the at-risk alert only adds the alarm.
    done.update(automation.due_work(now))
    return done
