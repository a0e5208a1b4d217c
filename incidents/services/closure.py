"""The closure checklists: attached from the incident's facts, ticked by
evidence or by hand (the records' items by a manager only), and reopened."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import (
    ChecklistCondition,
    ChecklistItemState,
    Incident,
    IncidentChecklist,
    IncidentChecklistItem,
    TimelineEvent,
)
from .closure_evidence import (
    EVIDENCE_OF_ONE_RESOLUTION,
    ClosureFacts,
    Condition,
    Evidence,
    applicable_checklist_templates,
    checklist_item_details,
    closure_facts,
    condition_holds,
    evidence_found,
    incident_checklists,
)
from .records import (
    User,
    field_error,
    lock_incident,
    person_name,
    record_timeline_event,
    require_permission,
)


def sync_checklists(
    incident: Incident, *, now: dt.datetime, actor: User | None = None
) -> None:
    """Attach the checklists the facts call for and tick items from evidence.

    The caller holds the incident's lock, which every checklist change
    takes first: that is what keeps two ticks, or two sweeps, apart.
    """
    facts = closure_facts(incident, now)
    checklists = {c.template_id: c for c in incident_checklists(incident)}
    templates = applicable_checklist_templates(incident, facts)
    for template in templates:
        checklist = checklists.get(template.pk)
        is_new = checklist is None
        if is_new:
            checklist = IncidentChecklist.objects.create(
                incident=incident,
                template=template,
                name=template.name,
                gates_closed_pending=template.gates_closed_pending,
                position=template.position,
                attached_at=now,
            )
            checklist._prefetched_objects_cache = {"items": []}
            checklists[template.pk] = checklist
        have = {item.template_item_id for item in checklist.items.all()}
        added = [
            IncidentChecklistItem(
                checklist=checklist,
                template_item=source,
                group=source.group,
                text=source.text,
                is_required=source.is_required,
                condition=source.condition,
                evidence=source.evidence,
                audience=source.audience,
                wait_hours=source.wait_hours,
                check_text=source.check_text,
                position=source.position,
            )
            for source in template.items.all()
            if source.pk not in have and condition_holds(source.condition, facts)
        ]
        if added:
            IncidentChecklistItem.objects.bulk_create(added)
            checklist._prefetched_objects_cache["items"] = sorted(
                [*checklist.items.all(), *added], key=lambda i: (i.position, i.pk or 0)
            )
            record_timeline_event(
                incident=incident,
                kind=TimelineEvent.Kind.CHECKLIST_ATTACHED,
                actor=actor,
                at=now,
                details={
                    "checklist": checklist.name,
                    "items": len(added),
                    **({} if is_new else {"added": [i.text for i in added]}),
                },
            )
    for checklist in checklists.values():
        # A resolve-time checklist stays through a recurrence: only its
        # condition decides whether it still applies.
        template_applies = condition_holds(checklist.template.condition, facts)
        for item in checklist.items.all():
            _settle_by_rule(
                incident, checklist, item, facts, template_applies=template_applies
            )


def _settle_by_rule(
    incident: Incident,
    checklist: IncidentChecklist,
    item: IncidentChecklistItem,
    facts: ClosureFacts,
    *,
    template_applies: bool,
) -> None:
    now = facts.now
    applies = template_applies and condition_holds(item.condition, facts)
    by_rule = item.settled_by_id is None
    if item.state == ChecklistItemState.OPEN and not applies:
        item.state = ChecklistItemState.NOT_APPLICABLE
        item.settled_at = now
        item.not_applicable_reason = (
            f"No longer applies: {ChecklistCondition(item.condition).label.lower()}"
            if item.condition != Condition.ALWAYS
            else "No longer applies to this incident"
        )
        item.save(update_fields=["state", "settled_at", "not_applicable_reason"])
        record_timeline_event(
            incident=incident,
            kind=TimelineEvent.Kind.CHECKLIST_ITEM_NOT_APPLICABLE,
            actor=None,
            at=now,
            details=checklist_item_details(
                item, checklist.name, reason=item.not_applicable_reason
            ),
        )
    elif item.state == ChecklistItemState.NOT_APPLICABLE and by_rule and applies:
        _reopen_item(incident, checklist, item, now=now, reason="Applies again")
    if item.state == ChecklistItemState.OPEN and item.evidence != Evidence.NONE:
        found = evidence_found(item, facts)
        if found:
            text, at = found
            item.state = ChecklistItemState.DONE
            item.settled_at = now
            item.evidence_text = text[:300]
            item.evidence_at = at
            item.save(
                update_fields=["state", "settled_at", "evidence_text", "evidence_at"]
            )
            record_timeline_event(
                incident=incident,
                kind=TimelineEvent.Kind.CHECKLIST_ITEM_DONE,
                actor=None,
                at=now,
                details=checklist_item_details(
                    item, checklist.name, evidence=text, evidence_at=at.isoformat()
                ),
            )


def _reopen_item(
    incident: Incident,
    checklist: IncidentChecklist,
    item: IncidentChecklistItem,
    *,
    now: dt.datetime,
    reason: str,
    actor: User | None = None,
) -> None:
    item.state = ChecklistItemState.OPEN
    item.settled_at = item.evidence_at = None
    item.settled_by = None
    item.evidence_text = item.not_applicable_reason = ""
    item.save(
        update_fields=[
            "state",
            "settled_at",
            "settled_by",
            "evidence_text",
            "evidence_at",
            "not_applicable_reason",
        ]
    )
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.CHECKLIST_ITEM_REOPENED,
        actor=actor,
        at=now,
        details=checklist_item_details(item, checklist.name, reason=reason),
    )


def take_back_resolution_evidence(
    incident: Incident, *, now: dt.datetime, actor: User | None
) -> None:
    """Reopen the items a past resolution's evidence ticked (kept: people's)."""
    for checklist in incident_checklists(incident):
        for item in checklist.items.all():
            if (
                item.state == ChecklistItemState.DONE
                and item.settled_by_id is None
                and item.evidence in EVIDENCE_OF_ONE_RESOLUTION
            ):
                _reopen_item(
                    incident,
                    checklist,
                    item,
                    now=now,
                    actor=actor,
                    reason="The incident came back; the next resolution must "
                    "show this again",
                )


@transaction.atomic
def refresh_checklists(*, incident: Incident, actor: User | None) -> Incident:
    """Attach the checklists that now apply and tick what evidence shows."""
    incident = lock_incident(incident, None)
    sync_checklists(incident, now=timezone.now(), actor=actor)
    return incident


def _lock_item(item: IncidentChecklistItem) -> tuple[Incident, IncidentChecklistItem]:
    incident = lock_incident(Incident(pk=item.checklist.incident_id), None)
    locked = (
        IncidentChecklistItem.objects.select_for_update(of=("self",))
        .select_related("checklist", "settled_by")
        .get(pk=item.pk)
    )
    if incident.status in Incident.CLOSED_STATUSES:
        raise ValidationError(
            f"{incident.reference} is closed; reopen it to change its checklist.",
            code="incident_closed",
        )
    if locked.is_settled:
        who = person_name(locked.settled_by) or "the portal"
        raise ValidationError(
            f"“{locked.text}” is already {locked.get_state_display().lower()} ({who}).",
            code="already_settled",
        )
    return incident, locked


@transaction.atomic
def tick_checklist_item(
    *, item: IncidentChecklistItem, actor: User, note: str = ""
) -> IncidentChecklistItem:
    """Mark a checklist item done, as the person who checked it.

    An item the portal's own records tick (Legal's approval, the phases,
    the credits, the customer's confirmation, the monitoring window) is not
    a person's to tick: only a manager may settle one by hand, with the
    reason, which the checklist and the timeline show.
    """
    require_permission(actor, "incidents.work_checklist")
    incident, item = _lock_item(item)
    now = timezone.now()
    overridden = _check_override(item, actor, note)
    if (
        not overridden
        and item.evidence == Evidence.MONITORING_WINDOW_PASSED
        and not (incident.monitoring_ends_at and now >= incident.monitoring_ends_at)
    ):
        raise ValidationError(
            "The monitoring window is still running; it ticks itself when it ends.",
            code="window_running",
        )
    item.state = ChecklistItemState.DONE
    item.settled_by = actor
    item.settled_at = item.evidence_at = now
    item.evidence_text = (
        f"Settled by hand by a manager: {note.strip()}"
        if overridden
        else (note.strip() or "Checked by hand")
    )[:300]
    item.full_clean()
    item.save(
        update_fields=[
            "state",
            "settled_by",
            "settled_at",
            "evidence_text",
            "evidence_at",
        ]
    )
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.CHECKLIST_ITEM_DONE,
        actor=actor,
        at=now,
        details=checklist_item_details(
            item, item.checklist.name, note=note.strip(), overridden=overridden
        ),
    )
    return item


def _check_override(
    item: IncidentChecklistItem, actor: User | None, reason: str
) -> bool:
    """Allow a hand on an item the records tick to managers, with a reason.

    Return whether this is such an override (the portal itself, acting on
    its rules, needs none).
    """
    if item.is_ticked_by_hand or actor is None:
        return False
    if not actor.has_perm("incidents.override_checklist"):
        raise ValidationError(
            f"“{item.text}” is ticked by the portal's own records "
            f"({Evidence(item.evidence).label.lower()}), not by hand. A manager "
            "may settle it anyway, giving the reason.",
            code="evidence_item",
        )
    if not reason.strip():
        raise field_error(
            "note",
            "Say why you settle it by hand: it overrides the portal's records.",
            code="override_reason_required",
        )
    return True


@transaction.atomic
def mark_checklist_item_not_applicable(
    *, item: IncidentChecklistItem, actor: User, reason: str
) -> IncidentChecklistItem:
    """Mark a checklist item not applicable to this incident, saying why."""
    require_permission(actor, "incidents.work_checklist")
    if not reason.strip():
        raise field_error(
            "reason", "Say why the item does not apply.", code="reason_required"
        )
    incident, item = _lock_item(item)
    overridden = _check_override(item, actor, reason)
    now = timezone.now()
    item.state = ChecklistItemState.NOT_APPLICABLE
    item.settled_by = actor
    item.settled_at = now
    item.not_applicable_reason = reason.strip()[:300]
    item.full_clean()
    item.save(
        update_fields=["state", "settled_by", "settled_at", "not_applicable_reason"]
    )
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.CHECKLIST_ITEM_NOT_APPLICABLE,
        actor=actor,
        at=now,
        details=checklist_item_details(
            item, item.checklist.name, reason=reason.strip(), overridden=overridden
        ),
    )
    return item


@transaction.atomic
def reopen_checklist_item(
    *, item: IncidentChecklistItem, actor: User, reason: str = ""
) -> IncidentChecklistItem:
    """Take back a tick or a not-applicable mark, e.g. one made by mistake."""
    require_permission(actor, "incidents.work_checklist")
    incident = lock_incident(Incident(pk=item.checklist.incident_id), None)
    item = IncidentChecklistItem.objects.select_related("checklist").get(pk=item.pk)
    if incident.status in Incident.CLOSED_STATUSES:
        raise ValidationError(
            f"{incident.reference} is closed; reopen it to change its checklist.",
            code="incident_closed",
        )
    if not item.is_settled:
        raise ValidationError("That item is already open.", code="already_open")
    _reopen_item(
        incident,
        item.checklist,
        item,
        now=timezone.now(),
        actor=actor,
        reason=reason.strip() or "Taken back",
    )
    return item
