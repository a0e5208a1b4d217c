"""Deadlines at risk raise the alarm; breached ones are recorded."""

import datetime as dt
from collections.abc import Iterator

from django.db import transaction
from django.db.models import Exists, OuterRef

from incidents.models import Incident, TimelineEvent
from incidents.services import record_timeline_event

from ..models import EscalationFiring, EscalationRule, Urgency
from .notices import (
    ESCALATABLE_STATUSES,
    SWEEP_BATCH,
    claim_firing,
)
from .rule_messages import (
    Kind,
    escalate_one_tier_up,
    locked_incident,
    post_urgent_alert,
    stamp,
    urgent_channel,
)


def _has_breach_rule(policy_id: int) -> bool:
    """Whether a policy's own "SLA breach imminent" rule already escalates."""
    return EscalationRule.objects.filter(
        policy_id=policy_id,
        is_active=True,
        is_time_based=True,
        sla_breach_within_minutes__isnull=False,
    ).exists()


def _fired_since(kind: str, moment: str) -> Exists:
    """Whether ``kind`` already fired for the incident since its ``moment``."""
    return Exists(
        EscalationFiring.objects.filter(
            kind=kind, incident_id=OuterRef("pk"), fired_at__gte=OuterRef(moment)
        )
    )


def _deadline_event(incident: Incident, kind: str, now, message, **more) -> None:
    record_timeline_event(
        incident=incident,
        kind=kind,
        actor=None,
        at=now,
        details={
            "due": incident.resolution_due_at.isoformat(),
            "channel": urgent_channel(),
            "message": message.pk if message else None,
            **more,
        },
    )


def _each_due(due) -> Iterator[Incident]:
    """Yield the due incidents, soonest deadline first, each locked in a
    transaction of its own and still escalatable."""
    for pk in list(
        due.order_by("resolution_due_at", "id").values_list("pk", flat=True)[
            :SWEEP_BATCH
        ]
    ):
        with transaction.atomic():
            incident = locked_incident(pk, ESCALATABLE_STATUSES)
            if incident is not None:
                yield incident


def alert_deadlines_at_risk(now: dt.datetime) -> int:
    """Alert the urgent channel once per deadline, and escalate one tier up.

    A policy with its own "SLA breach imminent" rule escalates through that
    rule (the reminders step); this one then only alerts, so nothing doubles.
    """
    fired = _fired_since(Kind.SLA_AT_RISK, "resolution_at_risk_at")
    due = Incident.objects.filter(
        status__in=ESCALATABLE_STATUSES,
        resolution_at_risk_at__lte=now,
        resolution_due_at__gt=now,
    ).exclude(fired)
    done = 0
    for incident in _each_due(due):
        if not (incident.resolution_at_risk_at <= now < incident.resolution_due_at):
            continue
        if not claim_firing(
            f"sla_at_risk:{incident.pk}:{stamp(incident.resolution_due_at)}",
            Kind.SLA_AT_RISK,
            incident_id=incident.pk,
            now=now,
        ):
            continue
        left = incident.resolution_due_at - now
        message = post_urgent_alert(
            incident,
            f"@channel Resolution deadline in {int(left.total_seconds() // 60)} min.\n",
        )
        escalation = None
        if not _has_breach_rule(incident.policy_id):
            escalation = escalate_one_tier_up(
                incident,
                now=now,
                reason="Resolution deadline at risk",
                urgency=Urgency.HIGH,
            )
        _deadline_event(
            incident,
            TimelineEvent.Kind.SLA_AT_RISK_ALERTED,
            now,
            message,
            escalation=escalation.pk if escalation else None,
        )
        done += 1
    return done


def record_breaches(now: dt.datetime) -> int:
    """A passed resolution deadline: on the timeline and alerted, once."""
    fired = _fired_since(Kind.SLA_BREACHED, "resolution_due_at")
    due = Incident.objects.filter(
        status__in=ESCALATABLE_STATUSES, resolution_due_at__lte=now
    ).exclude(fired)
    done = 0
    for incident in _each_due(due):
        if incident.resolution_due_at > now:
            continue
        if not claim_firing(
            f"sla_breached:{incident.pk}:{stamp(incident.resolution_due_at)}",
            Kind.SLA_BREACHED,
            incident_id=incident.pk,
            now=now,
        ):
            continue
        message = post_urgent_alert(
            incident, "@channel Resolution deadline breached.\n"
        )
        _deadline_event(incident, TimelineEvent.Kind.SLA_BREACHED, now, message)
        done += 1
    return done
