"""Which webhook events a timeline entry is.

The incident timeline records every act of the portal, so it is the one
source of events: a status change is any entry whose ``changes`` hold the
status (moving, resolving, closing by hand or by rule, reopening), a
priority change an edit whose ``changes`` hold the priority.
"""

from typing import Any

from incidents.models import Incident, TimelineEvent

from .models import WebhookEvent

Kind = TimelineEvent.Kind

BY_KIND = {
    Kind.OPENED: WebhookEvent.INCIDENT_OPENED,
    Kind.MESSAGE_SENT: WebhookEvent.MESSAGE_SENT,
    Kind.ESCALATION_REQUESTED: WebhookEvent.ESCALATION_REQUESTED,
    # A rule escalating on its own is a request all the same.
    Kind.ESCALATION_TRIGGERED: WebhookEvent.ESCALATION_REQUESTED,
    Kind.ESCALATION_APPROVED: WebhookEvent.ESCALATION_DECIDED,
    Kind.ESCALATION_REJECTED: WebhookEvent.ESCALATION_DECIDED,
    Kind.ESCALATION_ACKNOWLEDGED: WebhookEvent.ESCALATION_DECIDED,
    Kind.ESCALATION_RETURNED: WebhookEvent.ESCALATION_DECIDED,
    Kind.ESCALATION_RESOLVED: WebhookEvent.ESCALATION_DECIDED,
    Kind.ESCALATION_CANCELLED: WebhookEvent.ESCALATION_DECIDED,
    Kind.CREDIT_APPROVED: WebhookEvent.CREDIT_DECIDED,
    Kind.CREDIT_REJECTED: WebhookEvent.CREDIT_DECIDED,
}


def webhook_events(kind: str, details: dict[str, Any]) -> list[str]:
    """Return the webhook events one timeline entry stands for (often none)."""
    names = []
    if kind in BY_KIND:
        names.append(BY_KIND[kind])
    changes = details.get("changes") if isinstance(details, dict) else None
    if not isinstance(changes, dict):
        return names
    if kind == Kind.EDITED and "priority" in changes:
        names.append(WebhookEvent.INCIDENT_PRIORITY_CHANGED)
    status = changes.get("status")
    if isinstance(status, list) and len(status) == 2:
        names.append(WebhookEvent.INCIDENT_STATUS_CHANGED)
        if status[1] == Incident.Status.RESOLVED:
            names.append(WebhookEvent.INCIDENT_RESOLVED)
        elif status[1] in Incident.CLOSED_STATUSES:
            names.append(WebhookEvent.INCIDENT_CLOSED)
    return names
