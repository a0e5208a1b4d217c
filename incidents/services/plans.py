"""Communication plans of major incidents: started, edited, reviewed, approved."""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import (
    CommunicationPlan,
    CommunicationPlanRow,
    CommunicationPlanSection,
    CommunicationPlanTemplate,
    Incident,
    PlanRowStatus,
    PlanSection,
    TimelineEvent,
)
from .postmortems import postmortem_required
from .records import (
    User,
    field_error,
    lock_incident,
    record_timeline_event,
    require_permission,
)

PLAN_ROW_FIELDS = ("item", "details", "owner", "due_on", "status")


def is_major_incident(incident: Incident) -> bool:
    """Return whether the incident gets a communication plan (P1, P2, systemic)."""
    return postmortem_required(incident)


def _plan_event(
    plan: CommunicationPlan,
    *,
    actor: User | None,
    change: str,
    at: dt.datetime,
    **extra,
) -> None:
    record_timeline_event(
        incident=plan.incident,
        kind=TimelineEvent.Kind.COMMUNICATION_PLAN_CHANGED,
        actor=actor,
        at=at,
        details={
            "plan": plan.pk,
            "status": plan.status,
            "version": plan.version,
            "change": change,
            **extra,
        },
    )


def _lock_plan(plan: CommunicationPlan) -> CommunicationPlan:
    return (
        CommunicationPlan.objects.select_for_update(of=("self",))
        .select_related("incident")
        .get(pk=plan.pk)
    )


def _plan_changed(plan: CommunicationPlan, now: dt.datetime) -> list[str]:
    """Note a change to the plan; an approved plan becomes a new draft version."""
    plan.updated_at = now
    fields = ["updated_at"]
    if plan.status != CommunicationPlan.Status.DRAFT:
        if plan.status == CommunicationPlan.Status.APPROVED:
            plan.version += 1
            fields.append("version")
        plan.status = CommunicationPlan.Status.DRAFT
        plan.approved_by = plan.approved_at = None
        fields += ["status", "approved_by", "approved_at"]
    return fields


@transaction.atomic
def start_communication_plan(
    *,
    incident: Incident,
    actor: User | None,
    owner: User | None = None,
    prefill: list[dict[str, Any]] | None = None,
) -> CommunicationPlan:
    """Open a major incident's communication plan from the default template.

    ``prefill`` holds what the portal already knows, as rows: a row whose
    key matches a template row fills it; others are added to their section.
    """
    require_permission(
        actor,
        "incidents.add_communicationplan",
        "You may not start communication plans.",
    )
    incident = lock_incident(incident, None)
    if not is_major_incident(incident):
        raise ValidationError(
            "Communication plans are kept for P1, P2 and systemic incidents.",
            code="not_major",
        )
    if CommunicationPlan.objects.filter(incident=incident).exists():
        raise ValidationError(
            f"{incident.reference} already has a communication plan.",
            code="already_started",
        )
    template = (
        CommunicationPlanTemplate.objects.filter(is_default=True)
        .prefetch_related("sections__rows")
        .first()
    )
    now = timezone.now()
    plan = CommunicationPlan.objects.create(
        incident=incident,
        template=template,
        category=template.category if template else "Customer Success",
        review_cycle=template.review_cycle if template else "event_based",
        owner=owner or incident.owner,
        effective_on=timezone.localdate(),
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    template_sections = (
        {s.section: s for s in template.sections.all()} if template else {}
    )
    sections = {}
    for position, (value, label) in enumerate(PlanSection.choices):
        shape = template_sections.get(value)
        sections[value] = CommunicationPlanSection.objects.create(
            plan=plan,
            section=value,
            heading=shape.heading if shape else label,
            guidance=shape.guidance if shape else "",
            position=shape.position if shape else position,
        )
    rows: dict[tuple[str, str], CommunicationPlanRow] = {}
    ordered: list[CommunicationPlanRow] = []
    for value, shape in template_sections.items():
        for template_row in shape.rows.all():
            row = CommunicationPlanRow(
                section=sections[value],
                key=template_row.key,
                item=template_row.item,
                details=template_row.details,
                owner=template_row.owner,
                position=template_row.position,
            )
            ordered.append(row)
            if template_row.key:
                rows[(value, template_row.key)] = row
    for known in prefill or []:
        section = known["section"]
        row = rows.get((section, known.get("key", "")))
        if row is None:
            row = CommunicationPlanRow(
                section=sections[section],
                key=known.get("key", ""),
                item=known["item"][:200],
                position=len(ordered) + 100,
            )
            ordered.append(row)
        for field in ("details", "owner", "due_on", "status"):
            if known.get(field):
                value = known[field]
                setattr(row, field, value[:500] if isinstance(value, str) else value)
    CommunicationPlanRow.objects.bulk_create(ordered)
    _plan_event(plan, actor=actor, change="started", at=now, rows=len(ordered))
    return plan


@transaction.atomic
def edit_communication_plan(
    *,
    plan: CommunicationPlan,
    actor: User,
    category: str,
    owner: User | None,
    effective_on: dt.date | None,
    review_cycle: str,
) -> CommunicationPlan:
    """Change the plan's metadata (an approved plan becomes a new draft)."""
    plan = _lock_plan(plan)
    values = {
        "category": category.strip(),
        "owner": owner,
        "effective_on": effective_on,
        "review_cycle": review_cycle,
    }
    changed = [name for name, value in values.items() if getattr(plan, name) != value]
    if not changed:
        return plan
    for name in changed:
        setattr(plan, name, values[name])
    now = timezone.now()
    plan.full_clean(exclude=["incident"])
    plan.save(update_fields=[*changed, *_plan_changed(plan, now)])
    _plan_event(plan, actor=actor, change="edited", at=now, fields=changed)
    return plan


def _check_plan_row(values: dict[str, Any]) -> None:
    if not values["item"].strip():
        raise field_error("item", "Name the item.", code="item_required")
    if values["status"] not in PlanRowStatus.values:
        raise field_error("status", "Pick open or complete.", code="bad_status")


@transaction.atomic
def add_plan_row(
    *,
    section: CommunicationPlanSection,
    actor: User,
    item: str,
    details: str = "",
    owner: str = "",
    due_on: dt.date | None = None,
    status: str = PlanRowStatus.OPEN,
) -> CommunicationPlanRow:
    """Add a row to one section of the plan."""
    plan = _lock_plan(section.plan)
    values = {
        "item": item,
        "details": details,
        "owner": owner,
        "due_on": due_on,
        "status": status,
    }
    _check_plan_row(values)
    position = max(section.rows.values_list("position", flat=True), default=0) + 1
    row = CommunicationPlanRow.objects.create(
        section=section,
        position=position,
        **{k: v.strip() if isinstance(v, str) else v for k, v in values.items()},
    )
    now = timezone.now()
    plan.save(update_fields=_plan_changed(plan, now))
    _plan_event(plan, actor=actor, change="row_added", at=now, row=row.pk)
    return row


@transaction.atomic
def edit_plan_row(
    *,
    row: CommunicationPlanRow,
    actor: User,
    item: str,
    details: str,
    owner: str,
    due_on: dt.date | None,
    status: str,
) -> CommunicationPlanRow:
    """Change a plan row, or mark it complete."""
    plan = _lock_plan(row.section.plan)
    values = {
        "item": item.strip(),
        "details": details.strip(),
        "owner": owner.strip(),
        "due_on": due_on,
        "status": status,
    }
    _check_plan_row(values)
    row = CommunicationPlanRow.objects.get(pk=row.pk)
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    if not changed:
        return row
    for name in changed:
        setattr(row, name, values[name])
    row.save(update_fields=changed)
    now = timezone.now()
    plan.save(update_fields=_plan_changed(plan, now))
    _plan_event(
        plan, actor=actor, change="row_edited", at=now, row=row.pk, fields=changed
    )
    return row


@transaction.atomic
def save_plan_section_notes(
    *, section: CommunicationPlanSection, actor: User, notes: str
) -> CommunicationPlanSection:
    """Keep the notes of one plan section (context, evidence, comments)."""
    plan = _lock_plan(section.plan)
    section = CommunicationPlanSection.objects.get(pk=section.pk)
    if section.notes == notes.strip():
        return section
    section.notes = notes.strip()
    section.save(update_fields=["notes"])
    now = timezone.now()
    plan.save(update_fields=_plan_changed(plan, now))
    _plan_event(
        plan, actor=actor, change="notes_saved", at=now, section=section.section
    )
    return section


@transaction.atomic
def submit_communication_plan(
    *, plan: CommunicationPlan, actor: User
) -> CommunicationPlan:
    """Put the plan in review, for someone other than its author to approve."""
    plan = _lock_plan(plan)
    if plan.status != CommunicationPlan.Status.DRAFT:
        raise ValidationError("Only a draft plan goes to review.", code="not_draft")
    now = timezone.now()
    plan.status = CommunicationPlan.Status.IN_REVIEW
    plan.submitted_by, plan.submitted_at, plan.updated_at = actor, now, now
    plan.save(update_fields=["status", "submitted_by", "submitted_at", "updated_at"])
    _plan_event(plan, actor=actor, change="submitted", at=now)
    return plan


@transaction.atomic
def approve_communication_plan(
    *, plan: CommunicationPlan, actor: User
) -> CommunicationPlan:
    """Approve a plan in review; its author may not approve it."""
    require_permission(
        actor,
        "incidents.approve_communicationplan",
        "You may not approve communication plans.",
    )
    plan = _lock_plan(plan)
    if plan.status != CommunicationPlan.Status.IN_REVIEW:
        raise ValidationError(
            "A plan is approved from review: send it for review first.",
            code="not_in_review",
        )
    if actor.pk in (plan.created_by_id, plan.submitted_by_id):
        raise ValidationError(
            "You wrote or submitted this plan; someone else must approve it.",
            code="own_plan",
        )
    now = timezone.now()
    plan.status = CommunicationPlan.Status.APPROVED
    plan.approved_by, plan.approved_at, plan.updated_at = actor, now, now
    plan.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])
    _plan_event(plan, actor=actor, change="approved", at=now)
    return plan


@transaction.atomic
def return_communication_plan(
    *, plan: CommunicationPlan, actor: User, reason: str
) -> CommunicationPlan:
    """Send a plan in review back to draft, saying what to change."""
    require_permission(
        actor,
        "incidents.approve_communicationplan",
        "Only reviewers send plans back.",
    )
    if not reason.strip():
        raise field_error("reason", "Say what needs changing.", code="reason_required")
    plan = _lock_plan(plan)
    if plan.status != CommunicationPlan.Status.IN_REVIEW:
        raise ValidationError("Only a plan in review goes back.", code="not_in_review")
    now = timezone.now()
    plan.status = CommunicationPlan.Status.DRAFT
    plan.updated_at = now
    plan.save(update_fields=["status", "updated_at"])
    _plan_event(plan, actor=actor, change="returned", at=now, reason=reason.strip())
    return plan
