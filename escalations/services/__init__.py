"""Escalation and credit intentions, split by subject; callers import from here."""

import datetime as dt

from .metrics import complete_review_action, record_review

__all__ = ["complete_review_action", "due_work", "record_review"]


def due_work(now: dt.datetime) -> dict[str, int]:
    """Fire the escalation app's time-based work: triggers, reminders, check-ins."""
    return {}
