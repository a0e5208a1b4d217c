"""Escalation and credit intentions, split by subject; callers import from here."""

import datetime as dt


def due_work(now: dt.datetime) -> dict[str, int]:
    """Fire the escalation app's time-based work: triggers, reminders, check-ins."""
    return {}
