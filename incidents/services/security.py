"""Security incident response: flagging, phases, notifications, regulatory
clocks, Legal's approval and lessons learned."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import (
    security,
)
from ..models import (
    Incident,
    PostMortem,
    RegulatoryClock,
    RegulatoryRegime,
    SecurityChecklistItem,
    SecurityContact,
    SecurityIncidentType,
    SecurityNotification,
    SecurityPhase,
    SecurityPhaseKind,
    SecurityPhaseTemplate,
    SecurityResponse,
    TimelineEvent,
)
from .postmortems import start_postmortem
from .records import (
    User,
    field_error,
    lock_incident,
    record_timeline_event,
    require_permission,
)


def _response_event(response, kind: str, actor, now, **details) -> None:
    record_timeline_event(
        incident=response.incident,
        kind=kind,
        actor=actor,
        at=now,
        details={"security_response": response.pk, **details},
    )


def _lock_response(response: SecurityResponse) -> SecurityResponse:
    return (
        SecurityResponse.objects.select_for_update(of=("self",))
        .select_related("incident")
        .get(pk=response.pk)
    )


@transaction.atomic
def flag_security_incident(
    *, incident: Incident, actor: User | None, incident_type: str
) -> SecurityResponse:
    """Run the incident as a security incident: phases and clocks.

    The phases are the fleet escalation playbook's security response steps.

    Every phase deadline counts from the incident's detection time.
    """
    require_permission(
        actor,
        "incidents.flag_security_incident",
        "You may not flag security incidents.",
    )
    if incident_type not in SecurityIncidentType.values:
        raise field_error(
            "incident_type", "Pick the kind of security incident.", code="bad_type"
        )
    incident = lock_incident(incident, None)
    if SecurityResponse.objects.filter(incident=incident).exists():
        raise ValidationError(
            f"{incident.reference} is already a security incident.",
            code="already_flagged",
        )
    now = timezone.now()
    start = incident.detected_at
    response = SecurityResponse.objects.create(
        incident=incident,
        incident_type=incident_type,
        detected_at=start,
        flagged_by=actor,
        flagged_at=now,
    )
    items = []
    shapes = SecurityPhaseTemplate.objects.filter(is_active=True).prefetch_related(
        "items"
    )
    for position, shape in enumerate(shapes):
        starts = start + dt.timedelta(minutes=shape.starts_after_minutes)
        due = (
            start + dt.timedelta(minutes=shape.due_after_minutes)
            if shape.due_after_minutes is not None
            else None
        )
        phase = SecurityPhase.objects.create(
            response=response,
            kind=shape.kind,
            starts_at=starts,
            due_at=due,
            at_risk_at=security.at_risk_at(starts, due) if due else None,
            position=position,
        )
        items += [
            SecurityChecklistItem(
                phase=phase, group=item.group, text=item.text, position=n
            )
            for n, item in enumerate(shape.items.all())
        ]
    SecurityChecklistItem.objects.bulk_create(items)
    SecurityNotification.objects.bulk_create(
        SecurityNotification(
            response=response,
            recipient=key,
            label=label,
            contact=contact,
            position=position,
        )
        for position, (key, label, contact) in enumerate(
            SecurityContact.objects.filter(is_active=True).values_list(
                "key", "label", "contact"
            )
        )
    )
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.SECURITY_FLAGGED,
        actor=actor,
        at=now,
        details={
            "security_response": response.pk,
            "incident_type": incident_type,
            "detected_at": start.isoformat(),
        },
    )
    return response


@transaction.atomic
def record_security_notification(
    *,
    notification: SecurityNotification,
    actor: User,
    how: str = "",
    notified_at: dt.datetime | None = None,
) -> SecurityNotification:
    """Record that the security officer, the CTO or on-call has been told."""
    response = _lock_response(notification.response)
    notification = SecurityNotification.objects.get(pk=notification.pk)
    if notification.notified_at is not None:
        raise ValidationError(
            f"The {notification.label.lower()} was already told.",
            code="already_notified",
        )
    now = timezone.now()
    notified_at = notified_at or now
    if notified_at > now:
        raise field_error(
            "notified_at", "That time is in the future.", code="future_time"
        )
    notification.notified_at, notification.notified_by = notified_at, actor
    notification.how = how.strip()
    notification.save(update_fields=["notified_at", "notified_by", "how"])
    record_timeline_event(
        incident=response.incident,
        kind=TimelineEvent.Kind.ON_CALL_PAGED
        if notification.recipient == "on_call"
        else TimelineEvent.Kind.MANAGEMENT_NOTIFIED,
        actor=actor,
        at=now,
        details={
            "security_response": response.pk,
            "recipient": notification.recipient,
            "contact": notification.contact,
            "how": notification.how,
            "notified_at": notified_at.isoformat(),
        },
    )
    return notification


@transaction.atomic
def tick_security_item(
    *, item: SecurityChecklistItem, actor: User, done: bool = True
) -> SecurityChecklistItem:
    """Tick (or untick) one line of a security phase's checklist."""
    phase = SecurityPhase.objects.select_for_update().get(pk=item.phase_id)
    response = _lock_response(phase.response)
    item = SecurityChecklistItem.objects.get(pk=item.pk)
    if phase.done_at is not None:
        raise ValidationError(
            f"The {phase.get_kind_display().lower()} phase is done.",
            code="phase_done",
        )
    if item.is_done == done:
        raise ValidationError(
            "Someone already ticked that." if done else "That line is not ticked.",
            code="unchanged",
        )
    now = timezone.now()
    item.is_done = done
    item.done_by, item.done_at = (actor, now) if done else (None, None)
    item.save(update_fields=["is_done", "done_by", "done_at"])
    record_timeline_event(
        incident=response.incident,
        kind=TimelineEvent.Kind.CHECKLIST_ITEM_DONE
        if done
        else TimelineEvent.Kind.CHECKLIST_ITEM_REOPENED,
        actor=actor,
        at=now,
        details={
            # Not a closure checklist item: the security response's own.
            "security_item": item.pk,
            "phase": phase.kind,
            "text": item.text,
        },
    )
    return item


@transaction.atomic
def complete_security_phase(*, phase: SecurityPhase, actor: User) -> SecurityPhase:
    """Mark a phase done once every line of its checklist is ticked."""
    phase = SecurityPhase.objects.select_for_update().get(pk=phase.pk)
    response = _lock_response(phase.response)
    if phase.done_at is not None:
        raise ValidationError("That phase is already done.", code="phase_done")
    open_items = list(phase.items.filter(is_done=False).values_list("text", flat=True))
    if open_items:
        raise ValidationError(
            "Tick every line first; still open: " + "; ".join(open_items) + ".",
            code="open_items",
        )
    now = timezone.now()
    phase.done_at, phase.done_by = now, actor
    phase.save(update_fields=["done_at", "done_by"])
    _response_event(
        response,
        TimelineEvent.Kind.SECURITY_PHASE_DONE,
        actor,
        now,
        phase=phase.kind,
        due_at=phase.due_at.isoformat() if phase.due_at else None,
        on_time=phase.due_at is None or now <= phase.due_at,
    )
    return phase


@transaction.atomic
def choose_regulatory_clocks(
    *, response: SecurityResponse, actor: User, regimes: list[RegulatoryRegime]
) -> list[RegulatoryClock]:
    """Start the regulatory clocks that apply, counted from detection.

    Clocks already running stay; the notify phase's deadline becomes the
    earliest fixed one.
    """
    response = _lock_response(response)
    if not regimes:
        raise field_error(
            "regimes", "Pick at least one law that applies.", code="none_chosen"
        )
    running = set(response.regulatory_clocks.values_list("regime_id", flat=True))
    now = timezone.now()
    started = []
    for regime in regimes:
        if regime.pk in running:
            continue
        clock = RegulatoryClock.objects.create(
            response=response,
            regime=regime,
            started_at=response.detected_at,
            due_at=response.detected_at + dt.timedelta(minutes=regime.deadline_minutes)
            if regime.deadline_minutes
            else None,
            chosen_by=actor,
        )
        started.append(clock)
        _response_event(
            response,
            TimelineEvent.Kind.REGULATORY_CLOCK_STARTED,
            actor,
            now,
            regime=regime.key,
            deadline=regime.deadline_text,
            due_at=clock.due_at.isoformat() if clock.due_at else None,
        )
    if not started:
        raise ValidationError(
            "Those clocks are already running.", code="already_running"
        )
    earliest = (
        response.regulatory_clocks.filter(due_at__isnull=False)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )
    # An admin may have dropped the notify phase from the template.
    notify = response.phases.filter(kind=SecurityPhaseKind.NOTIFY).first()
    if earliest is not None and notify is not None:
        notify.due_at = earliest
        notify.at_risk_at = security.at_risk_at(notify.starts_at, earliest)
        notify.save(update_fields=["due_at", "at_risk_at"])
    return started


@transaction.atomic
def record_regulatory_notice(
    *, clock: RegulatoryClock, actor: User, reference: str = ""
) -> RegulatoryClock:
    """Record that the notice this law asks for was filed."""
    response = _lock_response(clock.response)
    clock = RegulatoryClock.objects.select_related("regime").get(pk=clock.pk)
    if clock.notified_at is not None:
        raise ValidationError(
            f"The {clock.regime.name} notice is already recorded.",
            code="already_notified",
        )
    now = timezone.now()
    clock.notified_at, clock.notified_by = now, actor
    clock.reference = reference.strip()
    clock.save(update_fields=["notified_at", "notified_by", "reference"])
    _response_event(
        response,
        TimelineEvent.Kind.REGULATORY_NOTICE_SENT,
        actor,
        now,
        regime=clock.regime.key,
        reference=clock.reference,
        on_time=clock.due_at is None or now <= clock.due_at,
    )
    return clock


@transaction.atomic
def record_legal_approval(
    *, response: SecurityResponse, actor: User, approver: str, note: str = ""
) -> SecurityResponse:
    """Record Legal's approval of the customer security notice.

    Until then the composer refuses the security notice template.
    """
    require_permission(
        actor,
        "incidents.record_legal_approval",
        "You may not record Legal's approval.",
    )
    if not approver.strip():
        raise field_error(
            "approver", "Name the person in Legal who approved.", code="no_approver"
        )
    response = _lock_response(response)
    if response.legal_approved_at is not None:
        raise ValidationError(
            "Legal's approval is already recorded.", code="already_approved"
        )
    now = timezone.now()
    response.legal_approver = approver.strip()
    response.legal_note = note.strip()
    response.legal_approved_at, response.legal_recorded_by = now, actor
    response.save(
        update_fields=[
            "legal_approver",
            "legal_note",
            "legal_approved_at",
            "legal_recorded_by",
        ]
    )
    _response_event(
        response,
        TimelineEvent.Kind.SECURITY_PHASE_DONE,
        actor,
        now,
        phase="legal_approval",
        approver=response.legal_approver,
        note=response.legal_note,
    )
    return response


REPORT_FIELDS = {
    "attack_vectors": "Security report: attack vectors",
    "data_accessed": "Security report: data accessed",
    "actions_taken": "Security report: response actions taken",
}


@transaction.atomic
def write_security_report(
    *,
    response: SecurityResponse,
    actor: User,
    shown_written_at: str = "",
    **sections: str,
) -> SecurityResponse:
    """Write the security incident report: attack vectors, data accessed and
    the response actions taken (fleet playbook, step 3).

    ``shown_written_at`` is when the report the writer saw was written: if
    someone wrote it since, the writer is told instead of overwriting them.
    """
    require_permission(
        actor,
        "incidents.change_securityresponse",
        "You may not write the security report.",
    )
    response = _lock_response(response)
    written = (
        response.report_written_at.isoformat() if response.report_written_at else ""
    )
    if shown_written_at != written:
        raise ValidationError(
            "Someone wrote the security report while you were writing. Your text "
            "is kept below; their version is on the page once you reload it.",
            code="stale_report",
        )
    changes = {}
    for name, label in REPORT_FIELDS.items():
        text = (sections.get(name) or "").strip()
        if text != getattr(response, name):
            changes[label] = [
                "(empty)" if not getattr(response, name) else "(earlier text)",
                "(written)" if text else "(cleared)",
            ]
            setattr(response, name, text)
    if not changes:
        return response
    now = timezone.now()
    response.report_written_at, response.report_written_by = now, actor
    response.save(
        update_fields=[*REPORT_FIELDS, "report_written_at", "report_written_by"]
    )
    record_timeline_event(
        incident=response.incident,
        kind=TimelineEvent.Kind.EDITED,
        actor=actor,
        at=now,
        details={"changes": changes},
    )
    return response


def start_lessons_learned(*, response: SecurityResponse, actor: User) -> PostMortem:
    """Open the security incident's lessons-learned review as its post-mortem."""
    return start_postmortem(
        incident=response.incident, actor=actor, is_security_review=True
    )
