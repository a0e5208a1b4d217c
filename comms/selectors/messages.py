"""Messages as the pages list them: an incident's, the approvals queue, failed
deliveries."""

from django.db.models import Q, QuerySet

from incidents.models import Incident
from incidents.selectors import incident_details_not_in_rows

from ..models import (
    Message,
)

# A notice to ten thousand customers carries ten thousand addresses in each
# of these: lists that do not show them leave them in the database.
DELIVERY_PROGRESS = ("delivered_to", "handing_over_to")


def incident_messages(incident: Incident) -> QuerySet:
    """Return an incident's messages, newest first, ready to list."""
    return (
        Message.objects.filter(incident=incident)
        .select_related(
            "created_by", "decided_by", "party", "template_version__template"
        )
        .defer(*DELIVERY_PROGRESS)
    )


def approval_queue() -> QuerySet:
    """Return external messages waiting for a manager, oldest first."""
    return (
        Message.objects.filter(status="awaiting_approval")
        .select_related("incident", "created_by", "party")
        .defer(*DELIVERY_PROGRESS, "in_doubt_to", *incident_details_not_in_rows())
        .order_by("created_at", "id")
    )


def approvals_waiting_count() -> int:
    """Return how many messages wait for a manager (the navigation badge)."""
    return Message.objects.filter(status="awaiting_approval").count()


def recently_decided() -> QuerySet:
    """Return messages a manager approved or rejected, newest decision first."""
    return (
        Message.objects.filter(decided_at__isnull=False)
        .select_related("incident", "created_by", "decided_by")
        .defer(*DELIVERY_PROGRESS, "in_doubt_to", "recipients", "body")
        .order_by("-decided_at", "-id")
    )


def messages_needing(user) -> QuerySet:
    """Return someone's drafts and rejected messages, to finish or rework."""
    return (
        Message.objects.filter(
            created_by=user,
            status__in=[Message.Status.DRAFT, Message.Status.REJECTED],
        )
        .select_related("incident")
        .defer(*incident_details_not_in_rows())
        .order_by("-created_at", "-id")
    )


def failed_deliveries(*, owner=None) -> QuerySet:
    """Return messages that could not be delivered, newest first."""
    failed = Message.objects.filter(status=Message.Status.FAILED)
    if owner is not None:
        failed = failed.filter(Q(incident__owner=owner) | Q(created_by=owner))
    return (
        failed.select_related("incident")
        .defer(*incident_details_not_in_rows())
        .order_by("-created_at", "-id")
    )


# What a line about a message the portal will send shows.
_AHEAD_SHOWN = ("incident", "audience", "subject", "body", "send_after", "status")


def portal_messages_ahead(*, owner=None, incident=None) -> QuerySet:
    """Return what the portal will send by itself and when, soonest first.

    Its own notices wait their hold (scheduled, written by nobody) so that
    people can edit, hold or send them first; ``owner`` narrows the list to
    someone's incidents, ``incident`` to one.
    """
    ahead = Message.objects.filter(
        status=Message.Status.SCHEDULED, created_by__isnull=True
    ).order_by("send_after", "id")
    if owner is not None:
        ahead = ahead.filter(incident__owner=owner)
    if incident is not None:
        # Read on every tab of the incident, which the page already holds.
        return ahead.filter(incident=incident).only(*_AHEAD_SHOWN)
    return ahead.select_related("incident").only(*_AHEAD_SHOWN, "incident__id")
