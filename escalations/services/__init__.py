"""Escalation and credit intentions, split by subject; callers import from here."""

import datetime as dt

# Escalation routing (issue 11)
from . import routing
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
    "acknowledge_escalation",
    "approve_escalation",
    "due_work",
    "file_bug_report",
    "record_tracker_key",
    "reject_escalation",
    "request_escalation",
    "resolve_escalation",
    "return_escalation",
]


def due_work(now: dt.datetime) -> dict[str, int]:
    """Fire the escalation app's time-based work: triggers, reminders, check-ins."""
    done: dict[str, int] = {}
    done.update(routing.due_work(now))
    return done
