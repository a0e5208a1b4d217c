from django import template

from incidents.sla import CLOCK_STATE_LABELS, ClockState
from incidents.timeline import as_local_time, change_label, change_value

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


register.filter("as_local_time", as_local_time)


@register.filter
def change_rows(changes) -> list[tuple[str, str, str]]:
    """Return a timeline entry's changes as (label, before, after) for people."""
    if not isinstance(changes, dict):
        return []
    return [
        (change_label(key), change_value(key, old), change_value(key, new))
        for key, (old, new) in changes.items()
    ]
