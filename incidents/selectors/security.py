"""The security response page and its clocks."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from .. import security
from ..models import (
    Incident,
    SecurityChecklistItem,
    SecurityNotification,
    SecurityResponse,
)
from ..sla import ClockState, clock_state


@dataclass(frozen=True)
class SecurityPage:
    response: SecurityResponse
    phases: list  # (phase, clock state or None, items)
    notifications: list[SecurityNotification]
    clocks: list  # (clock, clock state or None, draft of its notice)


def security_clock_state(
    *,
    starts_at: dt.datetime,
    due_at: dt.datetime | None,
    done_at: dt.datetime | None,
    now: dt.datetime,
) -> ClockState | None:
    """Return where a security phase or regulatory deadline stands, like SLAs.

    None when the deadline is not fixed (the law says "without delay").
    """
    if due_at is None:
        return None
    return clock_state(
        due_at=due_at,
        at_risk_at=security.at_risk_at(starts_at, due_at),
        stopped_at=done_at,
        now=now,
    )


def security_page(*, incident_id: int, now: dt.datetime) -> SecurityPage:
    """Return an incident's security response with its phases and clocks."""
    response = SecurityResponse.objects.select_related(
        "incident", "legal_recorded_by", "flagged_by", "report_written_by"
    ).get(incident_id=incident_id)
    phases = list(response.phases.select_related("done_by"))
    items: dict[int, list] = {p.pk: [] for p in phases}
    for item in SecurityChecklistItem.objects.filter(
        phase__response=response
    ).select_related("done_by"):
        items[item.phase_id].append(item)
    return SecurityPage(
        response=response,
        phases=[
            (
                phase,
                security_clock_state(
                    starts_at=response.detected_at,
                    due_at=phase.due_at,
                    done_at=phase.done_at,
                    now=now,
                ),
                items[phase.pk],
            )
            for phase in phases
        ],
        notifications=list(response.notifications.select_related("notified_by")),
        clocks=[
            (
                clock,
                security_clock_state(
                    starts_at=clock.started_at,
                    due_at=clock.due_at,
                    done_at=clock.notified_at,
                    now=now,
                ),
                regulatory_notice_draft(response, clock),
            )
            for clock in response.regulatory_clocks.select_related(
                "regime", "notified_by"
            )
        ],
    )


NOT_WRITTEN = "[Not in the security report yet: write it on this page.]"


def regulatory_notice_draft(response: SecurityResponse, clock) -> str:
    """Draft the notice a regulator is owed, from what the security report says.

    Legal edits it before filing (004 step 6: Legal decides what is
    disclosed); a part the report leaves empty is marked, never made up.
    """
    incident = response.incident
    due = (
        f"due {clock.due_at:%d %b %Y, %H:%M} UTC"
        if clock.due_at
        else clock.regime.deadline_text
    )
    parts = [
        f"Security incident notification ({clock.regime.name})",
        f"Our reference: {incident.reference}. "
        f"{response.get_incident_type_display()}, detected "
        f"{response.detected_at:%d %b %Y, %H:%M} UTC. This notice: {due}.",
        "What happened and how",
        response.attack_vectors.strip() or NOT_WRITTEN,
        "Data and people concerned",
        response.data_accessed.strip() or NOT_WRITTEN,
        "What we have done",
        response.actions_taken.strip() or NOT_WRITTEN,
    ]
    return "\n\n".join(parts)


def security_notice_cleared(incident: Incident) -> bool:
    """Return whether Legal approved a customer security notice for it."""
    return SecurityResponse.objects.filter(
        incident=incident, legal_approved_at__isnull=False
    ).exists()


def security_awaits_legal(incident: Incident) -> bool:
    """Return whether it is a security incident whose customer notice Legal
    has not yet approved (customers hear nothing until then)."""
    return SecurityResponse.objects.filter(
        incident=incident, legal_approved_at__isnull=True
    ).exists()


def is_security_incident(incident: Incident) -> bool:
    """Return whether the incident was flagged as a security incident."""
    return SecurityResponse.objects.filter(incident=incident).exists()


def security_awaiting_legal(incident_ids) -> set[int]:
    """Return which of these incidents are security incidents Legal has not
    yet cleared to tell customers about (one query for a whole page)."""
    return set(
        SecurityResponse.objects.filter(
            incident_id__in=incident_ids, legal_approved_at__isnull=True
        ).values_list("incident_id", flat=True)
    )


def legal_approvals_waiting() -> QuerySet:
    """Return security responses whose customer notice Legal has not yet
    approved, the earliest flagged first."""
    return (
        SecurityResponse.objects.filter(legal_approved_at__isnull=True)
        .select_related("incident")
        .order_by("flagged_at", "id")
    )
