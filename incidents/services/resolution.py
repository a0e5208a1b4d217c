"""Resolve, recurrence and close: the monitoring window and the close guard."""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import (
    lifecycle,
)
from ..models import (
    Incident,
    PolicyTarget,
    ResolutionVerification,
    TimelineEvent,
)
from .closure import sync_checklists, take_back_resolution_evidence
from .closure_evidence import (
    DEFAULT_MONITORING_WINDOW,
    Evidence,
    applicable_checklist_templates,
    closure_facts,
    condition_holds,
    evidence_found,
    incident_checklists,
)
from .records import (
    User,
    lock_incident,
    record_timeline_event,
    require_permission,
    save_status,
    shown_value,
)


def monitoring_window(incident: Incident) -> dt.timedelta:
    """Return how long the incident is watched after resolving (policy data)."""
    minutes = (
        PolicyTarget.objects.filter(
            policy_id=incident.policy_id, priority=incident.priority
        )
        .values_list("monitoring_window_minutes", flat=True)
        .first()
    )
    return (
        DEFAULT_MONITORING_WINDOW if minutes is None else dt.timedelta(minutes=minutes)
    )


def closure_blockers(
    incident: Incident,
    *,
    to_status: str = Incident.Status.CLOSED,
    now: dt.datetime | None = None,
) -> list[str]:
    """Return what stops the incident from closing, one readable line each.

    Every required item of every checklist that applies must be done or not
    applicable. An open item whose evidence exists now does not block (the
    next refresh ticks it), and a checklist the facts call for but not yet
    attached blocks with its items. Closing as pending (waiting on the
    customer) waits only for checklists marked to gate it.
    """
    facts = closure_facts(incident, now)
    lines: list[str] = []
    if to_status == Incident.Status.CLOSED and incident.status not in (
        Incident.Status.RESOLVED,
        Incident.Status.CLOSED,
    ):
        lines.append(
            f"Resolve the incident first (it is "
            f"{incident.get_status_display().lower()})."
        )
    attached = {c.template_id: c for c in incident_checklists(incident)}
    for template in applicable_checklist_templates(incident, facts):
        gates = (
            attached[template.pk].gates_closed_pending
            if (template.pk in attached)
            else template.gates_closed_pending
        )
        if to_status == Incident.Status.CLOSED_PENDING and not gates:
            continue
        copies = {}
        if template.pk in attached:
            copies = {i.template_item_id: i for i in attached[template.pk].items.all()}
        for source in template.items.all():
            if not source.is_required or not condition_holds(source.condition, facts):
                continue
            copy = copies.get(source.pk)
            if copy is not None and copy.is_settled:
                continue
            if source.evidence != Evidence.NONE and evidence_found(source, facts):
                continue
            line = f"{template.name} · {source.group}: {source.text}"
            if source.evidence != Evidence.NONE:
                line += f" (waiting for: {source.get_evidence_display().lower()})"
            lines.append(line)
    return lines


def start_monitoring(incident: Incident, now: dt.datetime) -> None:
    incident.monitoring_ends_at = now + monitoring_window(incident)


@transaction.atomic
def resolve_incident(
    *,
    incident: Incident,
    actor: User,
    root_cause: str,
    fix_summary: str,
    customer_summary: str,
    verification: list[str],
    verification_note: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Record how the incident was fixed and verified, and mark it resolved.

    Starts the policy's monitoring window and attaches the checklists that
    the incident's facts call for.
    """
    require_permission(actor, "incidents.change_incident_status")
    incident = lock_incident(incident, expected_version)
    reason = lifecycle.refusal_reason(incident.status, Incident.Status.RESOLVED)
    if reason:
        raise ValidationError(reason, code="transition_refused")
    errors: dict[str, ValidationError] = {}
    if not root_cause.strip():
        errors["root_cause"] = ValidationError(
            "Say what caused the incident.", code="root_cause_required"
        )
    if not fix_summary.strip():
        errors["fix_summary"] = ValidationError(
            "Say what was done to fix it.", code="fix_required"
        )
    if (incident.customer_id or incident.is_systemic) and not customer_summary.strip():
        errors["customer_summary"] = ValidationError(
            "Write what the customer is told; the resolution messages use it.",
            code="customer_summary_required",
        )
    unknown = set(verification) - set(ResolutionVerification.values)
    if not verification or unknown:
        errors["verification"] = ValidationError(
            "Say how the fix was verified.", code="verification_required"
        )
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    changes: dict[str, list[Any]] = {}
    for field, value in (
        ("root_cause", root_cause.strip()),
        ("fix_summary", fix_summary.strip()),
        ("customer_summary", customer_summary.strip()),
    ):
        if getattr(incident, field) != value:
            changes[field] = [getattr(incident, field), value]
            setattr(incident, field, value)
    from_status = incident.status
    incident.status = Incident.Status.RESOLVED
    incident.resolved_at = now
    start_monitoring(incident, now)
    incident.save(update_fields=["root_cause", "fix_summary", "customer_summary"])
    save_status(
        incident,
        kind=TimelineEvent.Kind.RESOLUTION_RECORDED,
        actor=actor,
        now=now,
        from_status=from_status,
        verification=[v for v in ResolutionVerification.values if v in verification],
        verification_note=verification_note.strip(),
        monitoring_ends_at=incident.monitoring_ends_at.isoformat(),
        field_changes=changes,
    )
    # After the resolution entry, which is evidence for "fix confirmed".
    sync_checklists(incident, now=now, actor=actor)
    return incident


@transaction.atomic
def report_recurrence(
    *,
    incident: Incident,
    actor: User,
    note: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Put a resolved incident back into investigation: the problem came back.

    Keeps its history and checklist; the ticks the last resolution earned
    from evidence are taken back.
    """
    require_permission(actor, "incidents.change_incident_status")
    incident = lock_incident(incident, expected_version)
    if incident.status != Incident.Status.RESOLVED:
        raise ValidationError(
            "Only a resolved incident can recur; a closed one is reopened.",
            code="not_resolved",
        )
    now = timezone.now()
    within = (
        incident.monitoring_ends_at is not None and now < incident.monitoring_ends_at
    )
    previous = {
        "resolved_at": shown_value(incident.resolved_at),
        "monitoring_ends_at": shown_value(incident.monitoring_ends_at),
    }
    incident.status = Incident.Status.INVESTIGATING
    incident.resolved_at = incident.monitoring_ends_at = None
    reason = (
        "Recurred during the monitoring window"
        if within
        else "Recurred after the monitoring window"
    )
    take_back_resolution_evidence(incident, now=now, actor=actor)
    save_status(
        incident,
        kind=TimelineEvent.Kind.REOPENED,
        actor=actor,
        now=now,
        from_status=Incident.Status.RESOLVED,
        reason=f"{reason}: {note.strip()}" if note.strip() else f"{reason}.",
        recurrence=True,
        previous=previous,
    )
    return incident


def close_incident(
    *,
    incident: Incident,
    actor: User | None,
    to_status: str = Incident.Status.CLOSED,
    note: str = "",
    expected_version: int | None = None,
    kind: str = TimelineEvent.Kind.STATUS_CHANGED,
) -> Incident:
    """Close the incident (or close it as pending) once its checklist allows.

    The one way to a closed state: the status form, the admin and the
    automatic rules call it. A refusal is recorded on the timeline (once
    per distinct list of blockers) and raised with every missing item.
    """
    if to_status not in Incident.CLOSED_STATUSES:
        raise ValueError(f"Not a closed status: {to_status}")
    require_permission(actor, "incidents.change_incident_status")
    with transaction.atomic():
        locked = lock_incident(incident, expected_version)
        reason = lifecycle.refusal_reason(locked.status, to_status)
        if reason:
            raise ValidationError(reason, code="transition_refused")
        now = timezone.now()
        sync_checklists(locked, now=now, actor=actor)
        blockers = closure_blockers(locked, to_status=to_status, now=now)
        if (
            actor is not None
            and locked.monitoring_ends_at is not None
            and now < locked.monitoring_ends_at
            and not actor.has_perm("incidents.close_during_monitoring")
        ):
            blockers.append(
                "The monitoring window runs until "
                f"{timezone.localtime(locked.monitoring_ends_at):%b %d, %H:%M}; "
                "only a manager closes sooner"
            )
        if not blockers:
            from_status = locked.status
            locked.status = to_status
            locked.closed_at = now
            save_status(
                locked,
                kind=kind,
                actor=actor,
                now=now,
                from_status=from_status,
                note=note,
            )
            return locked
        last_refusal = (
            TimelineEvent.objects.filter(
                incident=locked, kind=TimelineEvent.Kind.CLOSE_REFUSED
            )
            .order_by("-created_at", "-id")
            .values_list("details", flat=True)
            .first()
        )
        if not last_refusal or last_refusal.get("blockers") != blockers:
            record_timeline_event(
                incident=locked,
                kind=TimelineEvent.Kind.CLOSE_REFUSED,
                actor=actor,
                at=now,
                details={"to_status": to_status, "blockers": blockers},
            )
    raise ValidationError(closure_refusal_message(blockers), code="closure_blocked")


def closure_refusal_message(blockers: list[str]) -> str:
    """Say why the incident cannot close, listing what is missing."""
    return "Not closed yet; still missing: " + "; ".join(blockers) + "."
