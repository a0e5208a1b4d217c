"""What the closure pages and the sweep read: stuck and archivable incidents,
checklist work, the closure tab, key metrics and survey answers."""

import datetime as dt

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from ..models import (
    ChecklistTemplate,
    Incident,
    IncidentChecklist,
    IncidentChecklistItem,
    SurveyResponse,
    TimelineEvent,
)
from .incident import incident_clocks
from .lists import tagged


def incidents_newly_stuck(now: dt.datetime, *, stuck_for: dt.timedelta) -> QuerySet:
    """Return open incidents stuck longer than ``stuck_for`` not yet tagged so."""
    return (
        Incident.objects.filter(
            status__in=Incident.OPEN_STATUSES, created_at__lte=now - stuck_for
        )
        .exclude(status=Incident.Status.RESOLVED)
        .exclude(tagged("slo_at_risk"))
        .select_related("category", "signal")
    )


# Checklist conditions the sweep can test in SQL, for checklists that attach
# before resolving (e.g. the escalation checklist).
_CONDITION_EVENT_KINDS = {
    "credit_requested": ["credit_requested"],
    "escalated": ["escalation_requested", "escalation_triggered"],
    "security": ["security_flagged"],
}


_CONDITION_FIELDS = {
    "always": Q(),
    "partner_involved": Q(is_partner_action_needed=True),
    "vendor_involved": Q(is_vendor_action_needed=True),
    "major": Q(priority__in=["P1", "P2"]) | Q(is_systemic=True),
    "financial_impact": Q(amount_paid__gt=0),
}


def incidents_due_for_archive(cutoff: dt.datetime, *, policy_id: int) -> QuerySet:
    """Return closed incidents of one policy, closed before ``cutoff``, not archived."""
    return Incident.objects.filter(
        policy_id=policy_id,
        archived_at__isnull=True,
        closed_at__isnull=False,
        closed_at__lte=cutoff,
    ).order_by("closed_at", "id")


def incidents_with_checklist_work(*, limit: int = 200) -> list[int]:
    """Return ids of incidents whose checklists the sweep should refresh.

    Resolved incidents with an open item that evidence may tick (time
    passing, a message sent since), and open incidents whose events now
    call for a checklist that attaches before resolving.
    """
    waiting_items = IncidentChecklistItem.objects.filter(
        checklist__incident=OuterRef("pk"), state="open"
    ).exclude(evidence="none")
    ids = list(
        Incident.objects.filter(
            Exists(waiting_items),
            status=Incident.Status.RESOLVED,
            archived_at__isnull=True,
        )
        .order_by("resolved_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    early = ChecklistTemplate.objects.filter(
        is_active=True, attaches_on_resolve=False
    ).only("pk", "policy_id", "condition")
    for template in early:
        if template.condition in _CONDITION_EVENT_KINDS:
            holds = Exists(
                TimelineEvent.objects.filter(
                    incident=OuterRef("pk"),
                    kind__in=_CONDITION_EVENT_KINDS[template.condition],
                )
            )
        elif template.condition in _CONDITION_FIELDS:
            holds = _CONDITION_FIELDS[template.condition]
        else:
            continue
        candidates = Incident.objects.filter(
            holds,
            ~Exists(
                IncidentChecklist.objects.filter(
                    incident=OuterRef("pk"), template_id=template.pk
                )
            ),
            status__in=Incident.OPEN_STATUSES,
            archived_at__isnull=True,
        )
        if template.policy_id is not None:
            candidates = candidates.filter(policy_id=template.policy_id)
        ids += list(candidates.order_by().values_list("pk", flat=True)[:limit])
    return list(dict.fromkeys(ids))[:limit]


def incident_closure(incident: Incident) -> list:
    """Return the incident's checklists with their items, ready to show."""
    return list(
        IncidentChecklist.objects.filter(incident=incident).prefetch_related(
            Prefetch(
                "items",
                queryset=IncidentChecklistItem.objects.select_related(
                    "settled_by"
                ).order_by("position", "id"),
            )
        )
    )


def incident_key_metrics(incident: Incident, now: dt.datetime) -> dict:
    """Per-incident figures: how fast we saw, answered and fixed it.

    From the carrier communication playbook, part 5A.

    Each is a timedelta, or None while it has not happened; SLA met is None
    while a clock still runs.
    """

    def between(start, end):
        if start is None or end is None:
            return None
        return max(end - start, dt.timedelta(0))

    clocks = incident_clocks(incident, now)
    if "breached" in clocks.values():
        sla_met = False
    elif incident.resolved_at or incident.closed_at:
        sla_met = True
    else:
        sla_met = None
    return {
        "time_to_detect": between(incident.impact_started_at, incident.detected_at),
        "time_to_first_response": between(
            incident.created_at, incident.first_response_at
        ),
        "time_to_resolution": between(incident.created_at, incident.resolved_at),
        "contacts": incident.customer_contact_count,
        "sla_met": sla_met,
    }


def survey_subject(incident_id: int) -> dict[str, str] | None:
    """What the survey page may tell the customer it is about: the reference
    and the summary written for them (never the internal narrative)."""
    incident = (
        Incident.objects.filter(pk=incident_id)
        .select_related("policy")
        .only("customer_summary", "policy__team_name")
        .first()
    )
    if incident is None:
        return None
    return {
        "reference": incident.reference,
        "summary": incident.customer_summary,
        "team": incident.policy.signing_team,
    }


def survey_answered(*, incident_id: int, customer_id: int) -> bool:
    """Whether this customer already answered this incident's survey."""
    return SurveyResponse.objects.filter(
        incident_id=incident_id, customer_id=customer_id
    ).exists()
