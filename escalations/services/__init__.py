"""Escalation and credit intentions, one module per subject; callers import
from here.

Escalations: routing (the request), decisions (approve, acknowledge, return,
resolve), notices (what they tell people), reminders (their sweep). The
automation rules: silence, deadlines and auto_close, run by automation.
Credits and refunds: credits. Metric reviews: metrics.
"""

import datetime as dt

from . import automation, decisions, paging, reminders
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
from .decisions import (
    acknowledge_escalation,
    approve_escalation,
    reject_escalation,
    resolve_escalation,
    return_escalation,
)
from .metrics import complete_review_action, record_review
from .routing import file_bug_report, record_tracker_key, request_escalation

__all__ = [
    "acknowledge_escalation",
    "apply_credit",
    "approve_credit",
    "approve_escalation",
    "authority_refusal",
    "cancel_credit",
    "clean_amount",
    "complete_review_action",
    "credit_rules_for",
    "due_work",
    "file_bug_report",
    "record_review",
    "record_tracker_key",
    "reject_credit",
    "reject_escalation",
    "request_credit",
    "request_escalation",
    "resolve_escalation",
    "return_escalation",
]


def due_work(now: dt.datetime) -> dict[str, int]:
    """Fire the escalation app's time-based work: rules, reminders, check-ins,
    then the automation rules (silence, deadlines, auto-close)."""
    done: dict[str, int] = {
        # First, so nothing below acts for an escalation whose incident closed.
        "escalations_ended": decisions.end_escalations_of_closed_incidents(now),
        "escalations_restored": (
            decisions.restore_escalations_of_reopened_incidents(now)
        ),
    }
    done.update(reminders.due_work(now))
    # After the reminders' rules, so a policy's own "SLA breach imminent" rule
    # escalates first and the at-risk alert only adds the alarm.
    done.update(automation.due_work(now))
    done.update(paging.due_work(now))
    return done
