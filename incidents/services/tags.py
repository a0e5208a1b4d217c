"""The tags the portal sets and removes itself, beside the ones people add."""

import datetime as dt

from django.utils import timezone

from ..models import (
    Category,
    Incident,
    Priority,
    Signal,
)

# Carrier escalation guide, "After escalation": a customer stuck this long is
# close to the 72-hour service objective.
SLO_AT_RISK_AFTER = dt.timedelta(hours=48)


# Tags the portal sets and removes itself; people add their own beside them.
STATUS_TAGS = {"in_progress", "resolved", "priority_high", "slo_at_risk"}


# Carrier escalation guide, "After escalation": set by the escalation
# services.
ESCALATION_TAGS = {
    "escalated_l2",
    "escalated_engineering",
    "escalated_ts",
    "escalated_carrier",
}


# The tags the list can filter by (signal and category tags vary with data).
TAG_SCHEME = {
    "incident",
    "proactive_alert",
    *STATUS_TAGS,
    *ESCALATION_TAGS,
    *(f"severity_{label.split()[-1].lower()}" for label in Priority.labels),
}


def standard_tags(incident: Incident, now: dt.datetime | None = None) -> list[str]:
    """Return the tags the portal gives an incident.

    The tagging rules are those of the carrier communication playbook and
    the carrier escalation guide.

    incident, severity_<level>, proactive_alert and signal_<id> for signals,
    the category; in_progress while open and resolved once resolved;
    priority_high when critical; slo_at_risk when stuck over 48 hours.
    """
    now = now or timezone.now()
    tags = ["incident", f"severity_{incident.get_priority_display().split()[-1]}"]
    if incident.signal_id:
        tags += ["proactive_alert", f"signal_{incident.signal.code.lower()}"]
    tags.append(incident.category.slug)
    if incident.status in (Incident.Status.RESOLVED, Incident.Status.CLOSED):
        tags.append("resolved")
    elif incident.status != Incident.Status.CLOSED_PENDING:
        tags.append("in_progress")
        if incident.created_at and incident.created_at <= now - SLO_AT_RISK_AFTER:
            tags.append("slo_at_risk")
    if incident.priority == Priority.P1:
        tags.append("priority_high")
    return [t.lower() for t in tags]


def _all_standard_tags() -> set[str]:
    # Escalation tags are kept like a person's: nothing recomputes them.
    tags = set(TAG_SCHEME) - ESCALATION_TAGS
    tags |= {
        f"signal_{code.lower()}"
        for code in Signal.objects.values_list("code", flat=True)
    }
    tags |= set(Category.objects.values_list("slug", flat=True))
    return tags


def custom_tags(incident: Incident) -> list[str]:
    """Return the tags a person added, without the standard ones."""
    standard = _all_standard_tags()
    return [t for t in incident.tags if t not in standard]


def merged_tags(
    incident: Incident, extra: list[str], now: dt.datetime | None = None
) -> list[str]:
    tags = standard_tags(incident, now)
    for tag in extra:
        tag = tag.strip().lower()
        if tag and tag not in tags:
            tags.append(tag)
    return tags
