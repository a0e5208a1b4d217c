import datetime as dt

from django import template
from django.utils import formats, timezone

from incidents.sla import CLOCK_STATE_LABELS, ClockState

register = template.Library()

CLOCK_BADGES = {
    ClockState.MET: "text-bg-success",
    ClockState.RUNNING: "text-bg-secondary",
    ClockState.AT_RISK: "text-bg-warning",
    ClockState.BREACHED: "text-bg-danger",
}
PRIORITY_BADGES = {
    "P1": "text-bg-danger",
    "P2": "text-bg-warning",
    "P3": "text-bg-info",
    "P4": "text-bg-light border",
}


@register.filter
def clock_badge(state) -> str:
    return CLOCK_BADGES.get(state, "text-bg-secondary")


@register.filter
def clock_label(state) -> str:
    return CLOCK_STATE_LABELS.get(state, "")


@register.filter
def priority_badge(priority: str) -> str:
    return PRIORITY_BADGES.get(priority, "text-bg-secondary")


@register.filter
def person(user) -> str:
    if user is None:
        return "System"
    return user.get_full_name() or user.get_username()


@register.filter
def as_local_time(value):
    """Show an ISO timestamp from a timeline entry in the reader's zone."""
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return formats.date_format(moment, "M j, H:i")
    return value
