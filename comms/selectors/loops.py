"""Update cadences and follow-up loops: what is due, from whom, and what the
sweep did."""

import datetime as dt

from django.db.models import F, Max, QuerySet
from django.db.models.functions import Coalesce
from django_q.models import Schedule

from incidents.models import Incident, PolicyTarget

from .. import sweep_memo
from ..models import (
    Audience,
    FollowUpLoop,
    FollowUpSlot,
    Message,
    SweepHeartbeat,
)
from .templates import LIVE_MESSAGE_STATUSES

CADENCE_FIELD = {
    Audience.INTERNAL: "internal_update_minutes",
    Audience.CUSTOMER: "customer_update_minutes",
    Audience.PARTNER: "partner_update_minutes",
    Audience.VENDOR: "partner_update_minutes",
}


def policy_target_for(incident: Incident) -> PolicyTarget | None:
    """Return what the incident's policy promises at its priority."""
    return sweep_memo.recall(
        ("policy_target_for", incident.policy_id, incident.priority),
        lambda: (
            PolicyTarget.objects.select_related("policy__calendar")
            .filter(policy_id=incident.policy_id, priority=incident.priority)
            .first()
        ),
    )


def update_cadence(target: PolicyTarget | None, audience: str) -> dt.timedelta | None:
    """Return how often ``audience`` hears about an incident, or None if as needed."""
    minutes = getattr(target, CADENCE_FIELD[audience]) if target else None
    return dt.timedelta(minutes=minutes) if minutes else None


def next_update_due(incident: Incident, *, audience: str, now) -> dt.datetime | None:
    """Return when ``audience`` is next due an update under the incident's policy."""
    cadence = update_cadence(policy_target_for(incident), audience)
    return now + cadence if cadence else None


def updates_due(incidents: list[Incident], *, now) -> list[dict]:
    """Return when each incident's customer and team are next owed an update.

    An update is due one cadence after the last message that audience got
    (or after the incident opened, if none). Two queries, however many
    incidents.
    """
    if not incidents:
        return []
    last_sent = {
        (incident_id, audience): sent_at
        for incident_id, audience, sent_at in Message.objects.filter(
            incident__in=incidents,
            status__in=LIVE_MESSAGE_STATUSES,
            audience__in=[Audience.INTERNAL, Audience.CUSTOMER],
        )
        .order_by()
        .values_list("incident_id", "audience")
        .annotate(
            last=Max(Coalesce("sent_at", "queued_at", "send_after", "created_at"))
        )
    }
    targets = {
        (t.policy_id, t.priority): t
        for t in PolicyTarget.objects.filter(
            policy_id__in={i.policy_id for i in incidents},
            priority__in={i.priority for i in incidents},
        )
    }
    due = []
    for incident in incidents:
        target = targets.get((incident.policy_id, incident.priority))
        for audience in (Audience.INTERNAL, Audience.CUSTOMER):
            if audience == Audience.CUSTOMER and not (
                incident.customer_id or incident.is_systemic
            ):
                continue
            cadence = update_cadence(target, audience)
            if cadence is None:
                continue
            since = last_sent.get((incident.pk, audience)) or incident.created_at
            due_at = since + cadence
            due.append(
                {
                    "incident": incident,
                    "audience": Audience(audience).label,
                    "audience_key": audience,
                    "due_at": due_at,
                    "is_overdue": due_at <= now,
                }
            )
    return sorted(due, key=lambda row: row["due_at"])


PARTY_AUDIENCES = (Audience.PARTNER, Audience.VENDOR)


def silent_party_loops(*, after_follow_ups: int = 2) -> QuerySet:
    """Return running partner and vendor loops unanswered after N follow-ups.

    For the escalation rules ("partner silent after 2 follow-ups", carrier
    communication playbook, part 7): each row's ``unanswered_count`` and
    ``last_sent_at`` say how long the party has been silent; a reply sets the
    count back to zero.
    The escalation side keeps its own record of what it already did.
    """
    return (
        FollowUpLoop.objects.filter(
            stopped_at__isnull=True,
            audience__in=PARTY_AUDIENCES,
            unanswered_count__gte=after_follow_ups,
        )
        .select_related("incident", "party")
        .order_by("last_sent_at", "id")
    )


def incident_loops(incident: Incident) -> QuerySet:
    """Return an incident's follow-up loops, running first."""
    return (
        FollowUpLoop.objects.filter(incident=incident)
        .select_related("party")
        .order_by(F("stopped_at").desc(nulls_first=True), "audience", "id")
    )


OVERDUE_GRACE = dt.timedelta(minutes=2)


def follow_ups_due_between(start, end) -> QuerySet:
    """Return running loops whose next follow-up falls in [start, end)."""
    return (
        FollowUpLoop.objects.filter(
            stopped_at__isnull=True, next_due_at__gte=start, next_due_at__lt=end
        )
        .select_related("incident", "party")
        .order_by("next_due_at", "id")
    )


def overdue_follow_ups(now) -> QuerySet:
    """Return running loops still unfired past their due time (and a grace)."""
    return (
        FollowUpLoop.objects.filter(
            stopped_at__isnull=True, next_due_at__lt=now - OVERDUE_GRACE
        )
        .select_related("incident", "party")
        .order_by("next_due_at", "id")
    )


def failed_follow_ups() -> QuerySet:
    """Return follow-up slots that produced no message, newest first."""
    return (
        FollowUpSlot.objects.filter(message__isnull=True)
        .select_related("loop__incident", "loop__party")
        .order_by("-fired_at", "-id")
    )


def last_sweep() -> SweepHeartbeat | None:
    return SweepHeartbeat.objects.filter(pk=1).first()


def sweep_schedules() -> list:
    """Return the django-q2 schedules that run the sweep (exactly one is right)."""
    return list(Schedule.objects.filter(func="portal.tasks.run_due_work"))
