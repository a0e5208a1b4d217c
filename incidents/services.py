"""Every change to incidents, one function per intention."""

import contextlib
import datetime as dt
import zoneinfo
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from . import (
    lifecycle,
    postmortems,
    security,
    selectors,
    severity,
    sla,
    surveys,
    timeline,
)
from .models import (
    POSTMORTEM_ACTION_KINDS,
    ActionItem,
    AffectedCustomer,
    Category,
    ChecklistCondition,
    ChecklistEvidence,
    ChecklistItemState,
    ChecklistTemplate,
    ChecklistTemplateItem,
    CommunicationPlan,
    CommunicationPlanRow,
    CommunicationPlanSection,
    CommunicationPlanTemplate,
    Customer,
    Incident,
    IncidentChecklist,
    IncidentChecklistItem,
    JourneyMilestone,
    PlanRowStatus,
    PlanSection,
    Policy,
    PolicyTarget,
    PostMortem,
    PostMortemTimelineRow,
    Priority,
    RegulatoryClock,
    RegulatoryRegime,
    ResolutionVerification,
    SecurityChecklistItem,
    SecurityContact,
    SecurityIncidentType,
    SecurityNotification,
    SecurityPhase,
    SecurityPhaseKind,
    SecurityResponse,
    SeverityCriterion,
    Signal,
    StaffProfile,
    SurveyResponse,
    TimelineEvent,
)

User = AbstractBaseUser

# Fields an edit may change, in the order the form shows them. Status, owner
# and the clocks have intentions of their own.
EDITABLE_FIELDS = (
    "title",
    "priority",
    "signal",
    "category",
    "customer",
    "is_systemic",
    "what_happened",
    "customer_summary",
    "service_status",
    "impact_started_at",
    "detected_at",
    "amount_paid",
    "revenue_impact",
    "is_service_delivered",
    "customer_contact_count",
    "sentiment",
    "priority_reason",
    "root_cause",
    "fix_summary",
    "is_partner_action_needed",
    "partner_action_details",
    "is_vendor_action_needed",
    "vendor_action_details",
    "is_engineering_action_needed",
    "engineering_action_details",
)
SLA_INPUT_FIELDS = {"priority", "customer"}


def _field_error(field: str, message: str, *, code: str) -> ValidationError:
    """Return an error that forms attach to ``field``, keeping its code."""
    return ValidationError({field: ValidationError(message, code=code)})


def record_timeline_event(
    *,
    incident: Incident,
    kind: str,
    actor: User | None,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> TimelineEvent:
    """Append one entry to the incident's history (called by other services).

    Inside ``timeline_written_together()`` the entry is returned unsaved and
    written with the block's others when it ends.
    """
    event = TimelineEvent(
        incident=incident,
        kind=kind,
        actor=actor,
        created_at=at or timezone.now(),
        details=details or {},
    )
    held = _held_timeline_events.get()
    if held is None:
        event.save(force_insert=True)
    else:
        held.append(event)
    return event


_held_timeline_events: ContextVar[list[TimelineEvent] | None] = ContextVar(
    "held_timeline_events", default=None
)


@contextlib.contextmanager
def timeline_written_together() -> Iterator[None]:
    """Write the timeline entries recorded in the block in one INSERT at its end.

    For the sweep, whose every follow-up adds an entry: one statement per
    chunk instead of one round trip each. Run it inside the transaction
    that must hold the entries; if the block raises, nothing is written.
    Nothing in the block may read back an entry it recorded.
    """
    held: list[TimelineEvent] = []
    token = _held_timeline_events.set(held)
    try:
        yield
    finally:
        _held_timeline_events.reset(token)
    TimelineEvent.objects.bulk_create(held)


def policy_for(customer: Customer | None) -> Policy:
    """Return the policy that governs an incident for ``customer``."""
    if customer is not None and customer.policy_id:
        return customer.policy
    policy = Policy.objects.filter(is_default=True).select_related("calendar").first()
    if policy is None:
        raise ValidationError(
            "No default SLA policy is set; an admin must mark one as default.",
            code="no_default_policy",
        )
    return policy


@transaction.atomic
def choose_default_policy(*, policy: Policy) -> Policy:
    """Make ``policy`` the default in place of the current one, in one step.

    The old default is unticked first: the database allows one default at
    a time, and there is never a moment without one for other readers.
    """
    Policy.objects.select_for_update().filter(is_default=True).exclude(
        pk=policy.pk
    ).update(is_default=False)
    Policy.objects.filter(pk=policy.pk).update(is_default=True)
    policy.is_default = True
    return policy


def _apply_deadlines(incident: Incident) -> None:
    policy = incident.policy
    try:
        target = policy.targets.get(priority=incident.priority)
    except PolicyTarget.DoesNotExist:
        raise ValidationError(
            f"Policy “{policy}” has no target for {incident.priority}; an admin "
            "must add one.",
            code="no_policy_target",
        ) from None
    deadlines = sla.compute_deadlines(
        target=target,
        policy=policy,
        segment=incident.customer.segment if incident.customer else None,
        start=incident.created_at,
        working_days=sla.WorkingDays.of(policy.calendar),
    )
    for name, value in vars(deadlines).items():
        setattr(incident, name, value)


# 002 "After escalation": a customer stuck this long is close to the 72-hour
# service objective.
SLO_AT_RISK_AFTER = dt.timedelta(hours=48)
# Tags the portal sets and removes itself; people add their own beside them.
STATUS_TAGS = {"in_progress", "resolved", "priority_high", "slo_at_risk"}
# 002 "After escalation": set by the escalation services once they exist.
ESCALATION_TAGS = {
    "escalated_l2",
    "escalated_engineering",
    "escalated_ts",
    "escalated_carrier",
}
# The tags the list can filter by (signal and category tags vary with data).
TAG_SCHEME = {
    "incident",
    "proactive_alert",
    *STATUS_TAGS,
    *ESCALATION_TAGS,
    *(f"severity_{label.split()[-1].lower()}" for label in Priority.labels),
}


def standard_tags(incident: Incident, now: dt.datetime | None = None) -> list[str]:
    """Return the tags the portal gives an incident (000, 002 tagging rules).

    incident, severity_<level>, proactive_alert and signal_<id> for signals,
    the category; in_progress while open and resolved once resolved;
    priority_high when critical; slo_at_risk when stuck over 48 hours.
    """
    now = now or timezone.now()
    tags = ["incident", f"severity_{incident.get_priority_display().split()[-1]}"]
    if incident.signal_id:
        tags += ["proactive_alert", f"signal_{incident.signal.code.lower()}"]
    tags.append(incident.category.slug)
    if incident.status in (Incident.Status.RESOLVED, Incident.Status.CLOSED):
        tags.append("resolved")
    elif incident.status != Incident.Status.CLOSED_PENDING:
        tags.append("in_progress")
        if incident.created_at and incident.created_at <= now - SLO_AT_RISK_AFTER:
            tags.append("slo_at_risk")
    if incident.priority == Priority.P1:
        tags.append("priority_high")
    return [t.lower() for t in tags]


def _all_standard_tags() -> set[str]:
    # Escalation tags are kept like a person's: nothing recomputes them.
    tags = set(TAG_SCHEME) - ESCALATION_TAGS
    tags |= {
        f"signal_{code.lower()}"
        for code in Signal.objects.values_list("code", flat=True)
    }
    tags |= set(Category.objects.values_list("slug", flat=True))
    return tags


def custom_tags(incident: Incident) -> list[str]:
    """Return the tags a person added, without the standard ones."""
    standard = _all_standard_tags()
    return [t for t in incident.tags if t not in standard]


def _merge_tags(
    incident: Incident, extra: list[str], now: dt.datetime | None = None
) -> list[str]:
    tags = standard_tags(incident, now)
    for tag in extra:
        tag = tag.strip().lower()
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def _check_rules(incident: Incident, now: dt.datetime) -> None:
    errors: dict[str, ValidationError] = {}
    if incident.customer_id is None and not incident.is_systemic:
        errors["customer"] = ValidationError(
            "Pick the affected customer, or mark the incident as systemic.",
            code="customer_required",
        )
    if incident.impact_started_at and incident.impact_started_at > now:
        errors["impact_started_at"] = ValidationError(
            "Impact cannot start in the future.", code="future_impact"
        )
    if incident.detected_at > now:
        errors["detected_at"] = ValidationError(
            "Detection cannot be in the future.", code="future_detection"
        )
    for party in ("partner", "vendor", "engineering"):
        if (
            getattr(incident, f"is_{party}_action_needed")
            and not getattr(incident, f"{party}_action_details").strip()
        ):
            errors[f"{party}_action_details"] = f"Say what the {party} needs to do."
    if errors:
        raise ValidationError(errors)


def _lock(incident: Incident, expected_version: int | None) -> Incident:
    locked = (
        Incident.objects.select_for_update(of=("self",))
        .select_related("policy__calendar", "customer", "category", "signal")
        .get(pk=incident.pk)
    )
    if expected_version is not None and locked.version != expected_version:
        raise ValidationError(
            stale_edit_message(locked, expected_version), code="stale"
        )
    if locked.archived_at is not None:
        raise ValidationError(
            f"{locked.reference} is archived and read-only: it closed more than "
            "its policy's archive delay ago. Open a new incident if the problem "
            "is back.",
            code="archived",
        )
    return locked


def stale_edit_message(incident: Incident, seen_version: int) -> str:
    """Describe what others changed since ``seen_version``."""
    events = (
        TimelineEvent.objects.filter(
            incident=incident, details__version__gt=seen_version
        )
        .select_related("actor")
        .order_by("created_at", "id")
    )
    changes = []
    for event in events:
        who = (
            (event.actor.get_full_name() or event.actor.get_username())
            if event.actor
            else "the system"
        )
        labels = [
            timeline.change_label(key) for key in event.details.get("changes", {})
        ]
        what = ", ".join(labels) if labels else event.get_kind_display().lower()
        changes.append(f"{who} changed {what}")
    summary = "; ".join(changes) or "someone else changed it"
    return (
        f"{incident.reference} changed while you were editing ({summary}). "
        "Nothing was saved: review the current values and save again."
    )


def _display(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


@transaction.atomic
def open_incident(
    *,
    actor: User | None,
    title: str,
    priority: str,
    category: Category,
    what_happened: str,
    customer_summary: str = "",
    fix_summary: str = "",
    customer: Customer | None = None,
    is_systemic: bool = False,
    signal: Signal | None = None,
    service_status: str = Incident.ServiceStatus.ACTIVE,
    impact_started_at: dt.datetime | None = None,
    detected_at: dt.datetime | None = None,
    amount_paid: Decimal | None = None,
    revenue_impact: Decimal | None = None,
    is_service_delivered: bool | None = None,
    customer_contact_count: int = 0,
    sentiment: str = Incident.Sentiment.UNKNOWN,
    root_cause: str = "",
    is_partner_action_needed: bool = False,
    partner_action_details: str = "",
    is_vendor_action_needed: bool = False,
    vendor_action_details: str = "",
    is_engineering_action_needed: bool = False,
    engineering_action_details: str = "",
    owner: User | None = None,
    severity_criteria: list[SeverityCriterion] | None = None,
    priority_reason: str = "",
    extra_tags: list[str] | None = None,
    immediate_actions: list[dict[str, Any]] | None = None,
    journey: dict[str, dict[str, Any]] | None = None,
) -> Incident:
    """Open an incident: stamp its SLA deadlines, tags and first timeline entry."""
    now = timezone.now()
    incident = Incident(
        title=title,
        priority=priority,
        category=category,
        what_happened=what_happened,
        customer_summary=customer_summary,
        fix_summary=fix_summary,
        customer=customer,
        is_systemic=is_systemic,
        signal=signal,
        service_status=service_status,
        impact_started_at=impact_started_at,
        detected_at=detected_at or now,
        amount_paid=amount_paid,
        revenue_impact=revenue_impact,
        is_service_delivered=is_service_delivered,
        customer_contact_count=customer_contact_count,
        sentiment=sentiment,
        root_cause=root_cause,
        is_partner_action_needed=is_partner_action_needed,
        partner_action_details=partner_action_details,
        is_vendor_action_needed=is_vendor_action_needed,
        vendor_action_details=vendor_action_details,
        is_engineering_action_needed=is_engineering_action_needed,
        engineering_action_details=engineering_action_details,
        owner=owner,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    _check_rules(incident, now)
    incident.policy = policy_for(customer)
    criteria = list(severity_criteria or [])
    decided_by = severity.check_priority(
        policy=incident.policy,
        priority=priority,
        criteria=criteria,
        reason=priority_reason,
    )
    incident.priority_reason = priority_reason.strip() if decided_by else ""
    _apply_deadlines(incident)
    incident.tags = _merge_tags(incident, extra_tags or [])
    incident.full_clean()
    incident.save()
    incident.severity_criteria.set(criteria)
    ActionItem.objects.bulk_create(
        ActionItem(incident=incident, kind=ActionItem.Kind.IMMEDIATE, **action)
        for action in immediate_actions or []
    )
    _save_journey(incident, journey or {})
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.OPENED,
        actor=actor,
        at=now,
        details={
            "version": incident.version,
            "priority": incident.priority,
            "policy": incident.policy.name,
            **_advice(decided_by, incident.priority_reason),
            "first_response_due_at": incident.first_response_due_at.isoformat(),
            "resolution_due_at": incident.resolution_due_at.isoformat(),
        },
    )
    return incident


def _advice(decided_by: SeverityCriterion | None, reason: str) -> dict[str, Any]:
    """Return what the severity advisor said, for the timeline."""
    if decided_by is None:
        return {}
    return {
        "suggested": decided_by.priority,
        "because": decided_by.text,
        **({"reason": reason} if reason else {}),
    }


def _save_journey(
    incident: Incident, journey: dict[str, dict[str, Any]]
) -> dict[str, list[Any]]:
    """Write the journey snapshot; return what changed per step."""
    existing = {m.step: m for m in incident.journey_milestones.all()}
    changes: dict[str, list[Any]] = {}
    for step, values in journey.items():
        state = values.get("state") or ""
        happened_at = values.get("happened_at")
        milestone = existing.get(step)
        if milestone is None:
            if not state and not happened_at:
                continue
            JourneyMilestone.objects.create(
                incident=incident, step=step, state=state, happened_at=happened_at
            )
            changes[f"journey: {step}"] = [None, state]
        elif (milestone.state, milestone.happened_at) != (state, happened_at):
            changes[f"journey: {step}"] = [milestone.state, state]
            milestone.state, milestone.happened_at = state, happened_at
            milestone.save(update_fields=["state", "happened_at"])
    return changes


@transaction.atomic
def edit_incident_details(
    *,
    incident: Incident,
    actor: User,
    expected_version: int,
    changes: dict[str, Any],
    extra_tags: list[str] | None = None,
    journey: dict[str, dict[str, Any]] | None = None,
    severity_criteria: list[SeverityCriterion] | None = None,
) -> Incident:
    """Save an agent's edits; refuse if someone else changed it meanwhile."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable here: {sorted(unknown)}")
    incident = _lock(incident, expected_version)
    now = timezone.now()
    changed: dict[str, list[Any]] = {}
    for field, value in changes.items():
        old = getattr(incident, field)
        if old != value:
            changed[field] = [_display(old), _display(value)]
            setattr(incident, field, value)
    _check_rules(incident, now)
    if changed.keys() & SLA_INPUT_FIELDS:
        incident.policy = policy_for(incident.customer)
    before = list(incident.severity_criteria.all())
    criteria = before if severity_criteria is None else list(severity_criteria)
    severity.check_priority(
        policy=incident.policy,
        priority=incident.priority,
        criteria=criteria,
        reason=incident.priority_reason,
    )
    if {c.pk for c in criteria} != {c.pk for c in before}:
        changed["severity_criteria"] = [
            [c.text for c in before],
            [c.text for c in criteria],
        ]
        incident.severity_criteria.set(criteria)
    new_tags = _merge_tags(
        incident, extra_tags if extra_tags is not None else custom_tags(incident)
    )
    if new_tags != incident.tags:
        changed["tags"] = [incident.tags, new_tags]
        incident.tags = new_tags
    changed |= _save_journey(incident, journey or {})
    if not changed:
        return incident
    incident.version += 1
    incident.updated_at = now
    incident.full_clean()
    incident.save()
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.EDITED,
        actor=actor,
        at=now,
        details={"version": incident.version, "changes": changed},
    )
    if changed.keys() & SLA_INPUT_FIELDS:
        _recompute_sla(incident, actor=actor, at=now)
    if changed.keys() & CHECKLIST_FACT_FIELDS and (
        incident.resolved_at is not None or incident.checklists.exists()
    ):
        _refresh_checklists(incident, now=now, actor=actor)
    return incident


# Fields whose change can make a checklist item apply or stop applying.
CHECKLIST_FACT_FIELDS = {
    "priority",
    "is_systemic",
    "amount_paid",
    "root_cause",
    "is_partner_action_needed",
    "is_vendor_action_needed",
}


def _recompute_sla(incident: Incident, *, actor: User | None, at: dt.datetime) -> None:
    before = {
        "first_response_due_at": incident.first_response_due_at,
        "resolution_due_at": incident.resolution_due_at,
    }
    _apply_deadlines(incident)
    incident.save(
        update_fields=[
            "policy",
            "first_response_due_at",
            "first_response_at_risk_at",
            "resolution_due_at",
            "resolution_at_risk_at",
        ]
    )
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.SLA_RECOMPUTED,
        actor=actor,
        at=at,
        details={
            "policy": incident.policy.name,
            "priority": incident.priority,
            "segment": incident.customer.segment if incident.customer else None,
            "changes": {
                name: [old.isoformat(), getattr(incident, name).isoformat()]
                for name, old in before.items()
            },
        },
    )


def _save_status(
    incident: Incident,
    *,
    kind: str,
    actor: User | None,
    now: dt.datetime,
    from_status: str,
    field_changes: dict[str, list[Any]] | None = None,
    **details: Any,
) -> None:
    """Save a status change and its timeline entry (inside the caller's lock)."""
    incident.version += 1
    incident.updated_at = now
    changes = {**(field_changes or {}), "status": [from_status, incident.status]}
    tags = _merge_tags(incident, custom_tags(incident), now=now)
    if tags != incident.tags:
        changes["tags"] = [incident.tags, tags]
        incident.tags = tags
    incident.full_clean()
    incident.save(
        update_fields=[
            "status",
            "resolved_at",
            "closed_at",
            "monitoring_ends_at",
            "tags",
            "version",
            "updated_at",
        ]
    )
    record_timeline_event(
        incident=incident,
        kind=kind,
        actor=actor,
        at=now,
        details={"version": incident.version, "changes": changes, **details},
    )


@transaction.atomic
def move_incident(
    *,
    incident: Incident,
    actor: User | None,
    to_status: str,
    note: str = "",
    expected_version: int | None = None,
) -> Incident:
    """Move an incident to another status, if the status machine allows it."""
    incident = _lock(incident, expected_version)
    reason = lifecycle.refusal_reason(incident.status, to_status)
    if reason:
        raise ValidationError(reason, code="transition_refused")
    now = timezone.now()
    if to_status in Incident.CLOSED_STATUSES:
        # The close guard (close_incident records refusals; this path only
        # refuses, for callers that move without it).
        _refresh_checklists(incident, now=now, actor=actor)
        blockers = closure_blockers(incident, to_status=to_status, now=now)
        if blockers:
            raise ValidationError(
                closure_refusal_message(blockers), code="closure_blocked"
            )
    from_status = incident.status
    incident.status = to_status
    if to_status == Incident.Status.RESOLVED:
        incident.resolved_at = now
        _start_monitoring(incident, now)
    elif (
        from_status == Incident.Status.RESOLVED
        and to_status not in Incident.CLOSED_STATUSES
    ):
        incident.resolved_at = incident.monitoring_ends_at = None
    if to_status in Incident.CLOSED_STATUSES:
        incident.closed_at = now
    # Checklist entries first, so the status change stays the latest event.
    if to_status == Incident.Status.RESOLVED:
        _refresh_checklists(incident, now=now, actor=actor)
    elif (
        from_status == Incident.Status.RESOLVED
        and to_status not in Incident.CLOSED_STATUSES
    ):
        # Back to work: the next resolution must earn its evidence again.
        # Closing keeps it, or the closed incident shows open items.
        _take_back_resolution_evidence(incident, now=now, actor=actor)
    _save_status(
        incident,
        kind=TimelineEvent.Kind.STATUS_CHANGED,
        actor=actor,
        now=now,
        from_status=from_status,
        note=note,
    )
    return incident


@transaction.atomic
def reopen_incident(
    *,
    incident: Incident,
    actor: User | None,
    reason: str,
    expected_version: int | None = None,
) -> Incident:
    """Bring a closed incident back into investigation, keeping its history."""
    if not reason.strip():
        raise _field_error(
            "reason", "Say why the incident is reopened.", code="reason_required"
        )
    incident = _lock(incident, expected_version)
    if incident.status not in lifecycle.REOPENABLE:
        raise ValidationError(
            "Only closed incidents can be reopened.", code="not_closed"
        )
    now = timezone.now()
    from_status = incident.status
    previous = {
        "resolved_at": _display(incident.resolved_at),
        "closed_at": _display(incident.closed_at),
    }
    incident.status = Incident.Status.INVESTIGATING
    incident.resolved_at = incident.closed_at = incident.monitoring_ends_at = None
    _take_back_resolution_evidence(incident, now=now, actor=actor)
    _save_status(
        incident,
        kind=TimelineEvent.Kind.REOPENED,
        actor=actor,
        now=now,
        from_status=from_status,
        reason=reason.strip(),
        previous=previous,
    )
    return incident


@transaction.atomic
def assign_incident(
    *,
    incident: Incident,
    actor: User,
    owner: User | None,
    expected_version: int | None = None,
) -> Incident:
    """Give the incident to ``owner`` (or leave it unassigned for pickup)."""
    incident = _lock(incident, expected_version)
    if incident.owner_id == (owner.pk if owner else None):
        raise ValidationError("That is already the owner.", code="same_owner")
    if owner is not None and not owner.is_active:
        raise _field_error(
            "owner", "That person's account is inactive.", code="inactive_owner"
        )
    now = timezone.now()
    previous = _person(incident.owner)
    incident.owner = owner
    incident.version += 1
    incident.updated_at = now
    incident.save(update_fields=["owner", "version", "updated_at"])
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.OWNER_CHANGED,
        actor=actor,
        at=now,
        details={
            "version": incident.version,
            "changes": {"owner": [previous, _person(owner)]},
        },
    )
    return incident


def _person(user: User | None) -> str | None:
    return (user.get_full_name() or user.get_username()) if user else None


@transaction.atomic
def record_first_response(
    *,
    incident: Incident,
    actor: User | None,
    responded_at: dt.datetime | None = None,
    channel: str = "",
) -> Incident:
    """Stamp the first reply to the customer and the SLA result it earned."""
    incident = _lock(incident, None)
    if incident.first_response_at is not None:
        raise ValidationError(
            "The first response is already recorded.", code="already_responded"
        )
    now = timezone.now()
    responded_at = responded_at or now
    if responded_at > now:
        raise _field_error(
            "responded_at",
            "The response cannot be in the future.",
            code="future_response",
        )
    if responded_at < incident.created_at:
        raise _field_error(
            "responded_at",
            "The response cannot precede the incident.",
            code="response_before_incident",
        )
    incident.first_response_at = responded_at
    incident.version += 1
    incident.updated_at = now
    incident.save(update_fields=["first_response_at", "version", "updated_at"])
    met = responded_at <= incident.first_response_due_at
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.FIRST_RESPONSE,
        actor=actor,
        at=now,
        details={
            "version": incident.version,
            "changes": {"first_response_at": [None, responded_at.isoformat()]},
            "sla": "met" if met else "breached",
            "channel": channel,
        },
    )
    return incident


@transaction.atomic
def add_affected_customer(
    *,
    incident: Incident,
    actor: User,
    customer: Customer,
    status_before: str = "",
) -> AffectedCustomer:
    """List one more customer hit by a systemic incident."""
    incident = _lock(incident, None)
    if not incident.is_systemic:
        raise ValidationError(
            "Only systemic incidents list affected customers; this one has its "
            "own customer.",
            code="not_systemic",
        )
    if incident.affected_customers.filter(customer=customer).exists():
        raise _field_error(
            "customer", f"{customer.name} is already listed.", code="duplicate"
        )
    affected = AffectedCustomer.objects.create(
        incident=incident, customer=customer, status_before=status_before
    )
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.AFFECTED_CUSTOMER_ADDED,
        actor=actor,
        details={"customer": customer.account_id, "status_before": status_before},
    )
    return affected


@transaction.atomic
def add_immediate_action(
    *,
    incident: Incident,
    actor: User,
    what: str,
    who: str,
    due_at: dt.datetime | None = None,
) -> ActionItem:
    """Add an immediate action (who does what by when) to the incident."""
    incident = _lock(incident, None)
    item = ActionItem.objects.create(
        incident=incident,
        kind=ActionItem.Kind.IMMEDIATE,
        what=what,
        who=who,
        due_at=due_at,
    )
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.EDITED,
        actor=actor,
        details={"changes": {"immediate action": [None, f"{who}: {what}"]}},
    )
    return item


@transaction.atomic
def complete_action_item(*, item: ActionItem, actor: User) -> ActionItem:
    """Mark an action item done."""
    item = ActionItem.objects.select_for_update().get(pk=item.pk)
    if item.status == ActionItem.Status.DONE:
        raise ValidationError("That action is already done.", code="already_done")
    item.status = ActionItem.Status.DONE
    item.done_at = timezone.now()
    item.save(update_fields=["status", "done_at"])
    record_timeline_event(
        incident=item.incident,
        kind=TimelineEvent.Kind.ACTION_ITEM_DONE,
        actor=actor,
        details={"what": item.what, "who": item.who},
    )
    return item


@transaction.atomic
def choose_time_zone(*, user: User, time_zone: str) -> StaffProfile:
    """Set the zone a person reads times in."""
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise _field_error(
            "time_zone", f"“{time_zone}” is not a known time zone.", code="unknown_zone"
        ) from None
    profile, _ = StaffProfile.objects.update_or_create(
        user=user, defaults={"time_zone": time_zone}
    )
    return profile


def due_work(now: dt.datetime) -> dict[str, int]:
    """Tag stuck incidents, tick checklists from evidence, archive old ones.

    Stuck: open past 48 hours (002 slo_at_risk). Checklists: see
    _refresh_due_checklists. Archive: see _archive_closed.
    """
    tagged = 0
    for incident in selectors.incidents_newly_stuck(now, stuck_for=SLO_AT_RISK_AFTER):
        with transaction.atomic():
            locked = _lock(incident, None)
            tags = _merge_tags(locked, custom_tags(locked), now=now)
            if tags == locked.tags:
                continue
            before, locked.tags = locked.tags, tags
            locked.save(update_fields=["tags"])
            record_timeline_event(
                incident=locked,
                kind=TimelineEvent.Kind.EDITED,
                actor=None,
                at=now,
                details={"changes": {"tags": [before, tags]}},
            )
            tagged += 1
    return {
        "slo_at_risk": tagged,
        "checklists_refreshed": _refresh_due_checklists(now),
        "archived": _archive_closed(now),
    }


# ---------------------------------------------------------------------------
# Resolve, closure checklists, the close guard and the archive (issue 13 A)
#
# Evidence comes only from the incident's own fields and its timeline (see
# the contracts in briefs/shared-files.md): comms, credits, escalations and
# post-mortems write timeline events, and this code reads them, so incidents
# imports neither app.
# ---------------------------------------------------------------------------

Evidence = ChecklistEvidence
Condition = ChecklistCondition

# Timeline kinds the checklist reads, in one query per evaluation.
_CLOSURE_EVENT_KINDS = (
    TimelineEvent.Kind.REOPENED,
    TimelineEvent.Kind.RESOLUTION_RECORDED,
    TimelineEvent.Kind.MESSAGE_SENT,
    TimelineEvent.Kind.REPLY_LOGGED,
    TimelineEvent.Kind.REPLY_RECEIVED,
    TimelineEvent.Kind.CREDIT_REQUESTED,
    TimelineEvent.Kind.CREDIT_APPLIED,
    TimelineEvent.Kind.CREDIT_REJECTED,
    TimelineEvent.Kind.CREDIT_CANCELLED,
    TimelineEvent.Kind.ESCALATION_REQUESTED,
    TimelineEvent.Kind.ESCALATION_TRIGGERED,
    TimelineEvent.Kind.POSTMORTEM_CHANGED,
    TimelineEvent.Kind.SECURITY_FLAGGED,
    TimelineEvent.Kind.SECURITY_PHASE_DONE,
)
_REPLY_KINDS = (TimelineEvent.Kind.REPLY_LOGGED, TimelineEvent.Kind.REPLY_RECEIVED)
_CREDIT_SETTLED_KINDS = {
    TimelineEvent.Kind.CREDIT_APPLIED,
    TimelineEvent.Kind.CREDIT_REJECTED,
    TimelineEvent.Kind.CREDIT_CANCELLED,
}
# Conditions that a timeline event makes true, for the sweep's cheap filter.
CONDITION_EVENT_KINDS = {
    Condition.CREDIT_REQUESTED: [TimelineEvent.Kind.CREDIT_REQUESTED],
    Condition.ESCALATED: [
        TimelineEvent.Kind.ESCALATION_REQUESTED,
        TimelineEvent.Kind.ESCALATION_TRIGGERED,
    ],
    Condition.SECURITY: [TimelineEvent.Kind.SECURITY_FLAGGED],
}
# Evidence that belongs to one resolution: a recurrence or a reopening
# takes these ticks back, since the next resolution must earn them again.
EVIDENCE_OF_ONE_RESOLUTION = {
    Evidence.ROOT_CAUSE_RECORDED,
    Evidence.RESOLUTION_VERIFIED,
    Evidence.RESOLUTION_MESSAGE_SENT,
    Evidence.PARTY_CONFIRMED,
    Evidence.CUSTOMER_CONFIRMED_OR_72H,
    Evidence.MONITORING_WINDOW_PASSED,
    Evidence.MONITORING_CHECK_SCHEDULED,
    Evidence.INTERNAL_NOTE_POSTED,
    Evidence.TAGS_UPDATED,
}
DEFAULT_MONITORING_WINDOW = dt.timedelta(hours=24)


@dataclass(frozen=True)
class _Event:
    kind: str
    at: dt.datetime
    details: dict


@dataclass
class ClosureFacts:
    """What the checklist may read about one incident at one moment."""

    incident: Incident
    now: dt.datetime
    events: list[_Event]
    # Evidence of a resolution counts only after the latest reopening.
    since: dt.datetime | None

    def after_since(self) -> list[_Event]:
        if self.since is None:
            return self.events
        return [e for e in self.events if e.at >= self.since]

    def has_event(self, kinds) -> bool:
        return any(e.kind in kinds for e in self.events)


def closure_facts(incident: Incident, now: dt.datetime | None = None) -> ClosureFacts:
    """Return the incident's closure evidence, read in one query."""
    events = [
        _Event(kind, at, details or {})
        for kind, at, details in TimelineEvent.objects.filter(
            incident=incident, kind__in=_CLOSURE_EVENT_KINDS
        )
        .order_by("created_at", "id")
        .values_list("kind", "created_at", "details")
    ]
    reopenings = [e.at for e in events if e.kind == TimelineEvent.Kind.REOPENED]
    return ClosureFacts(
        incident=incident,
        now=now or timezone.now(),
        events=events,
        since=reopenings[-1] if reopenings else None,
    )


def condition_holds(condition: str, facts: ClosureFacts) -> bool:
    """Return whether a checklist condition holds for the incident."""
    incident = facts.incident
    if condition == Condition.ALWAYS:
        return True
    if condition == Condition.PARTNER_INVOLVED:
        return incident.is_partner_action_needed
    if condition == Condition.VENDOR_INVOLVED:
        return incident.is_vendor_action_needed
    if condition == Condition.MAJOR:
        return incident.priority in (Priority.P1, Priority.P2) or incident.is_systemic
    if condition == Condition.FINANCIAL_IMPACT:
        return bool(incident.amount_paid)
    if condition in CONDITION_EVENT_KINDS:
        return facts.has_event(CONDITION_EVENT_KINDS[condition])
    return False


def _sent(facts: ClosureFacts, *, audience: str, stage: str, since: bool = True):
    events = facts.after_since() if since else facts.events
    return [
        e
        for e in events
        if e.kind == TimelineEvent.Kind.MESSAGE_SENT
        and e.details.get("audience") == audience
        and e.details.get("stage") == stage
    ]


def _replies(facts: ClosureFacts, *, sender: str, after: dt.datetime | None):
    return [
        e
        for e in facts.after_since()
        if e.kind
        in (TimelineEvent.Kind.REPLY_LOGGED, TimelineEvent.Kind.REPLY_RECEIVED)
        and e.details.get("from") == sender
        and (after is None or e.at >= after)
    ]


def evidence_found(
    item: ChecklistTemplateItem | IncidentChecklistItem, facts: ClosureFacts
) -> tuple[str, dt.datetime] | None:
    """Return (what shows the item is done, when), or None without evidence."""
    incident, now = facts.incident, facts.now
    kind = item.evidence
    if kind == Evidence.ROOT_CAUSE_RECORDED:
        if incident.root_cause.strip():
            text = incident.root_cause.strip().splitlines()[0]
            return f"Root cause: {text[:200]}", incident.resolved_at or now
    elif kind == Evidence.RESOLUTION_VERIFIED:
        for event in reversed(facts.after_since()):
            if event.kind == TimelineEvent.Kind.RESOLUTION_RECORDED and (
                event.details.get("verification")
            ):
                labels = [
                    ResolutionVerification(v).label.lower()
                    for v in event.details["verification"]
                    if v in ResolutionVerification.values
                ]
                return f"Verified by {', '.join(labels)}", event.at
    elif kind == Evidence.RESOLUTION_MESSAGE_SENT:
        sent = _sent(facts, audience=item.audience, stage="resolution")
        if sent:
            subject = sent[-1].details.get("subject") or "(no subject)"
            return (
                f"{item.audience.capitalize()} resolution message sent: {subject}",
                sent[-1].at,
            )
    elif kind == Evidence.PARTY_CONFIRMED:
        sent = _sent(facts, audience=item.audience, stage="resolution")
        if sent:
            replies = _replies(facts, sender=item.audience, after=sent[0].at)
            if replies:
                return (
                    f"{item.audience.capitalize()} replied after the resolution "
                    "message",
                    replies[-1].at,
                )
    elif kind == Evidence.CUSTOMER_CONFIRMED_OR_72H:
        replies = _replies(facts, sender="customer", after=None)
        confirmed = [e for e in replies if e.details.get("confirmed")]
        if confirmed:
            return "Customer confirmed it works", confirmed[-1].at
        resolved_at = incident.resolved_at
        if resolved_at is not None:
            replied_since = [e for e in replies if e.at >= resolved_at]
            waited_until = resolved_at + dt.timedelta(hours=item.wait_hours)
            if not replied_since and now >= waited_until:
                return (
                    f"{item.wait_hours} h passed after resolving with no reply",
                    waited_until,
                )
    elif kind == Evidence.MONITORING_WINDOW_PASSED:
        ends = incident.monitoring_ends_at
        if ends is not None and now >= ends:
            return "Monitoring window ended without a recurrence", ends
    elif kind == Evidence.MONITORING_CHECK_SCHEDULED:
        if incident.monitoring_ends_at is not None:
            return (
                "The monitoring window set on resolving is the check",
                incident.resolved_at or now,
            )
    elif kind == Evidence.INTERNAL_NOTE_POSTED:
        notes = [
            e
            for e in _sent(facts, audience="internal", stage="resolution")
            if e.details.get("channel") == "note"
        ]
        if notes:
            return "Internal resolution note posted", notes[-1].at
    elif kind == Evidence.ESCALATION_NOTICE_SENT:
        sent = _sent(facts, audience="customer", stage="escalation", since=False)
        if sent:
            return "Customer told of the escalation", sent[-1].at
    elif kind == Evidence.CREDITS_SETTLED:
        requested: dict[Any, dt.datetime] = {}
        settled: dict[Any, dt.datetime] = {}
        for event in facts.events:
            credit = event.details.get("credit")
            if event.kind == TimelineEvent.Kind.CREDIT_REQUESTED:
                requested[credit] = event.at
            elif event.kind in _CREDIT_SETTLED_KINDS and credit in requested:
                settled[credit] = event.at
        if not requested:
            return "No credit or refund was requested", incident.resolved_at or now
        if set(requested) <= set(settled):
            count = len(requested)
            return (
                f"{count} credit{'s' if count > 1 else ''} settled",
                max(settled.values()),
            )
    elif kind == Evidence.POSTMORTEM_SCHEDULED:
        changes = [
            e for e in facts.events if e.kind == TimelineEvent.Kind.POSTMORTEM_CHANGED
        ]
        if changes:
            latest = changes[-1]
            if latest.details.get("status") == "published":
                return "Post-mortem published", latest.at
            if latest.details.get("scheduled_on"):
                return (
                    f"Post-mortem scheduled for {latest.details['scheduled_on']}",
                    latest.at,
                )
    elif kind == Evidence.SECURITY_PHASES_DONE:
        done = {
            e.details.get("phase"): e.at
            for e in facts.events
            if e.kind == TimelineEvent.Kind.SECURITY_PHASE_DONE
        }
        if all(phase in done for phase in SecurityPhaseKind.values):
            return (
                "Every security phase done, lessons learned included",
                max(done[phase] for phase in SecurityPhaseKind.values),
            )
    elif kind == Evidence.LEGAL_APPROVED:
        for event in reversed(facts.events):
            if (
                event.kind == TimelineEvent.Kind.SECURITY_PHASE_DONE
                and event.details.get("phase") == "legal_approval"
            ):
                return (
                    f"Legal approved ({event.details.get('approver') or 'Legal'})",
                    event.at,
                )
    elif kind == Evidence.TAGS_UPDATED:
        # The portal keeps these two tags itself (standard_tags); reading
        # what they are for the current status also serves a status change
        # being saved in the same step.
        tags = standard_tags(incident, now)
        if "resolved" in tags and "in_progress" not in tags:
            return "Tagged resolved, no longer in progress", incident.resolved_at or now
    return None


def _has_been_resolved(incident: Incident) -> bool:
    return incident.resolved_at is not None


def _applicable_templates(incident: Incident, facts: ClosureFacts) -> list:
    templates = (
        ChecklistTemplate.objects.filter(is_active=True)
        .filter(Q(policy__isnull=True) | Q(policy_id=incident.policy_id))
        .prefetch_related(
            Prefetch(
                "items",
                queryset=ChecklistTemplateItem.objects.filter(is_active=True),
            )
        )
    )
    return [
        t
        for t in templates
        if condition_holds(t.condition, facts)
        and (not t.attaches_on_resolve or _has_been_resolved(incident))
    ]


def _incident_checklists(incident: Incident) -> list[IncidentChecklist]:
    return list(
        IncidentChecklist.objects.filter(incident=incident)
        .select_related("template")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=IncidentChecklistItem.objects.select_related(
                    "settled_by"
                ).order_by("position", "id"),
            )
        )
    )


def _item_details(item: IncidentChecklistItem, checklist_name: str, **extra) -> dict:
    return {
        "checklist": checklist_name,
        "item": item.text,
        "item_id": item.pk,
        "group": item.group,
        **extra,
    }


def _refresh_checklists(
    incident: Incident, *, now: dt.datetime, actor: User | None = None
) -> None:
    """Attach the checklists the facts call for and tick items from evidence.

    The caller holds the incident's lock, which every checklist change
    takes first: that is what keeps two ticks, or two sweeps, apart.
    """
    facts = closure_facts(incident, now)
    checklists = {c.template_id: c for c in _incident_checklists(incident)}
    templates = _applicable_templates(incident, facts)
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
            details=_item_details(
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
                details=_item_details(
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
        details=_item_details(item, checklist.name, reason=reason),
    )


def _take_back_resolution_evidence(
    incident: Incident, *, now: dt.datetime, actor: User | None
) -> None:
    """Reopen the items a past resolution's evidence ticked (kept: people's)."""
    for checklist in _incident_checklists(incident):
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
    attached = {c.template_id: c for c in _incident_checklists(incident)}
    for template in _applicable_templates(incident, facts):
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


def _require_permission(
    actor: User | None,
    permission: str,
    refusal: str = "Your role may not do that; ask a colleague who can.",
) -> None:
    """Refuse a person without ``permission``; the system (None) runs on rules
    the admin set and may act."""
    if actor is not None and not actor.has_perm(permission):
        raise ValidationError(refusal, code="not_allowed")


def _start_monitoring(incident: Incident, now: dt.datetime) -> None:
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
    _require_permission(actor, "incidents.change_incident_status")
    incident = _lock(incident, expected_version)
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
    _start_monitoring(incident, now)
    incident.save(update_fields=["root_cause", "fix_summary", "customer_summary"])
    _save_status(
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
    _refresh_checklists(incident, now=now, actor=actor)
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
    _require_permission(actor, "incidents.change_incident_status")
    incident = _lock(incident, expected_version)
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
        "resolved_at": _display(incident.resolved_at),
        "monitoring_ends_at": _display(incident.monitoring_ends_at),
    }
    incident.status = Incident.Status.INVESTIGATING
    incident.resolved_at = incident.monitoring_ends_at = None
    reason = (
        "Recurred during the monitoring window"
        if within
        else "Recurred after the monitoring window"
    )
    _take_back_resolution_evidence(incident, now=now, actor=actor)
    _save_status(
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


@transaction.atomic
def refresh_checklists(*, incident: Incident, actor: User | None) -> Incident:
    """Attach the checklists that now apply and tick what evidence shows."""
    incident = _lock(incident, None)
    _refresh_checklists(incident, now=timezone.now(), actor=actor)
    return incident


def _lock_item(item: IncidentChecklistItem) -> tuple[Incident, IncidentChecklistItem]:
    incident = _lock(Incident(pk=item.checklist.incident_id), None)
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
        who = _person(locked.settled_by) or "the portal"
        raise ValidationError(
            f"“{locked.text}” is already {locked.get_state_display().lower()} ({who}).",
            code="already_settled",
        )
    return incident, locked


@transaction.atomic
def tick_checklist_item(
    *, item: IncidentChecklistItem, actor: User, note: str = ""
) -> IncidentChecklistItem:
    """Mark a checklist item done, as the person who checked it."""
    _require_permission(actor, "incidents.work_checklist")
    incident, item = _lock_item(item)
    now = timezone.now()
    if item.evidence == Evidence.MONITORING_WINDOW_PASSED and not (
        incident.monitoring_ends_at and now >= incident.monitoring_ends_at
    ):
        raise ValidationError(
            "The monitoring window is still running; it ticks itself when it "
            "ends. To close sooner, mark it not applicable and say why.",
            code="window_running",
        )
    item.state = ChecklistItemState.DONE
    item.settled_by = actor
    item.settled_at = item.evidence_at = now
    item.evidence_text = (note.strip() or "Checked by hand")[:300]
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
        details=_item_details(item, item.checklist.name, note=note.strip()),
    )
    return item


@transaction.atomic
def mark_checklist_item_not_applicable(
    *, item: IncidentChecklistItem, actor: User, reason: str
) -> IncidentChecklistItem:
    """Mark a checklist item not applicable to this incident, saying why."""
    _require_permission(actor, "incidents.work_checklist")
    if not reason.strip():
        raise _field_error(
            "reason", "Say why the item does not apply.", code="reason_required"
        )
    incident, item = _lock_item(item)
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
        details=_item_details(item, item.checklist.name, reason=reason.strip()),
    )
    return item


@transaction.atomic
def reopen_checklist_item(
    *, item: IncidentChecklistItem, actor: User, reason: str = ""
) -> IncidentChecklistItem:
    """Take back a tick or a not-applicable mark, e.g. one made by mistake."""
    _require_permission(actor, "incidents.work_checklist")
    incident = _lock(Incident(pk=item.checklist.incident_id), None)
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
    _require_permission(actor, "incidents.change_incident_status")
    with transaction.atomic():
        locked = _lock(incident, expected_version)
        reason = lifecycle.refusal_reason(locked.status, to_status)
        if reason:
            raise ValidationError(reason, code="transition_refused")
        now = timezone.now()
        _refresh_checklists(locked, now=now, actor=actor)
        blockers = closure_blockers(locked, to_status=to_status, now=now)
        if not blockers:
            from_status = locked.status
            locked.status = to_status
            locked.closed_at = now
            _save_status(
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


def _archive_closed(now: dt.datetime, *, batch: int = 500) -> int:
    """Archive closed incidents older than their policy's archive delay."""
    archived = 0
    for policy_id, days in Policy.objects.values_list("id", "archive_after_days"):
        with transaction.atomic():
            due = list(
                selectors.incidents_due_for_archive(
                    now - dt.timedelta(days=days), policy_id=policy_id
                )
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:batch]
            )
            if not due:
                continue
            Incident.objects.filter(pk__in=due, archived_at__isnull=True).update(
                archived_at=now
            )
            TimelineEvent.objects.bulk_create(
                TimelineEvent(
                    incident_id=pk,
                    kind=TimelineEvent.Kind.ARCHIVED,
                    actor=None,
                    created_at=now,
                    details={"archive_after_days": days},
                )
                for pk in due
            )
            archived += len(due)
    return archived


def _refresh_due_checklists(now: dt.datetime, *, batch: int = 200) -> int:
    """Tick time-based evidence and attach checklists that events called for."""
    refreshed = 0
    for pk in selectors.incidents_with_checklist_work(limit=batch):
        with transaction.atomic():
            locked = _lock(Incident(pk=pk), None)
            if locked.status in Incident.CLOSED_STATUSES:
                continue
            _refresh_checklists(locked, now=now)
            refreshed += 1
    return refreshed


# --- Satisfaction survey (issue 15) -----------------------------------------

SURVEY_SCORES = (
    "score",
    "communication_score",
    "response_time_score",
    "resolution_score",
    "handling_score",
)


@transaction.atomic
def answer_survey(
    *, token: str, answers: dict[str, Any], now: dt.datetime | None = None
) -> SurveyResponse:
    """Record a customer's satisfaction answer from the link in their e-mail."""
    read = surveys.read_survey_token(token)
    if read is None:
        raise ValidationError(
            "This survey link is not valid or has expired.", code="bad_link"
        )
    incident_id, customer_id = read
    incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
    if incident is None or not Customer.objects.filter(pk=customer_id).exists():
        raise ValidationError(
            "This survey link is not valid or has expired.", code="bad_link"
        )
    if SurveyResponse.objects.filter(
        incident=incident, customer_id=customer_id
    ).exists():
        raise ValidationError(
            "You have already answered this survey. Thank you!", code="answered"
        )
    for name in SURVEY_SCORES:
        value = answers.get(name)
        if value is None and name == "score":
            raise _field_error("score", "Choose a score from 1 to 5.", code="required")
        if value is not None and not 1 <= int(value) <= 5:
            raise _field_error(name, "Choose a score from 1 to 5.", code="range")
    response = SurveyResponse(
        incident=incident,
        customer_id=customer_id,
        comment=(answers.get("comment") or "").strip(),
        answered_at=now or timezone.now(),
        **{name: answers.get(name) for name in SURVEY_SCORES},
    )
    response.full_clean()
    response.save()
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.SURVEY_ANSWERED,
        actor=None,
        details={
            "customer": customer_id,
            **{name: getattr(response, name) for name in SURVEY_SCORES},
            "comment": response.comment[:1000],
        },
        at=response.answered_at,
    )
    return response


# --- Post-mortems (issue 13 part B: 000 part 8, 004 lessons learned) ---------

POSTMORTEM_PRIORITIES = (Priority.P1, Priority.P2)


def postmortem_required(incident: Incident) -> bool:
    """Return whether the incident must have a post-mortem (P1, P2, systemic)."""
    return incident.priority in POSTMORTEM_PRIORITIES or incident.is_systemic


def _postmortem_event(
    postmortem: PostMortem, *, actor: User | None, change: str, at: dt.datetime, **extra
) -> None:
    # The closure checklist's "post-mortem scheduled" item reads these
    # details; keep the keys of the contract (postmortem, status, scheduled_on).
    record_timeline_event(
        incident=postmortem.incident,
        kind=TimelineEvent.Kind.POSTMORTEM_CHANGED,
        actor=actor,
        at=at,
        details={
            "postmortem": postmortem.pk,
            "status": postmortem.status,
            "scheduled_on": postmortem.scheduled_on.isoformat()
            if postmortem.scheduled_on
            else None,
            "change": change,
            **extra,
        },
    )


def _lock_postmortem(postmortem: PostMortem, *, editing: bool = True) -> PostMortem:
    locked = (
        PostMortem.objects.select_for_update(of=("self",))
        .select_related("incident")
        .get(pk=postmortem.pk)
    )
    if editing and locked.status == PostMortem.Status.PUBLISHED:
        raise ValidationError(
            "The post-mortem is published; it can no longer change.",
            code="published",
        )
    return locked


def _milestone_rows(postmortem: PostMortem, incident: Incident, skip: set[str]):
    events = TimelineEvent.objects.filter(incident=incident).order_by(
        "created_at", "id"
    )
    return [
        PostMortemTimelineRow(
            postmortem=postmortem,
            at=row.at,
            text=row.text[:300],
            milestone=row.milestone,
            source_event=row.event,
            position=position,
        )
        for position, row in enumerate(postmortems.milestone_rows(incident, events))
        if row.milestone not in skip
    ]


@transaction.atomic
def start_postmortem(
    *,
    incident: Incident,
    actor: User | None,
    scheduled_on: dt.date | None = None,
    is_security_review: bool = False,
) -> PostMortem:
    """Open the incident's post-mortem, its timeline written from its history."""
    _require_permission(
        actor, "incidents.add_postmortem", "You may not start post-mortems."
    )
    incident = _lock(incident, None)
    if PostMortem.objects.filter(incident=incident).exists():
        raise ValidationError(
            f"{incident.reference} already has a post-mortem.", code="already_started"
        )
    now = timezone.now()
    postmortem = PostMortem.objects.create(
        incident=incident,
        scheduled_on=scheduled_on,
        is_security_review=is_security_review,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    PostMortemTimelineRow.objects.bulk_create(
        _milestone_rows(postmortem, incident, skip=set())
    )
    _postmortem_event(postmortem, actor=actor, change="started", at=now)
    return postmortem


@transaction.atomic
def refresh_postmortem_timeline(
    *, postmortem: PostMortem, actor: User | None
) -> list[PostMortemTimelineRow]:
    """Add the moments the incident reached since the timeline was written.

    Rows already there stay as people left them (edited, hidden or not).
    """
    postmortem = _lock_postmortem(postmortem)
    present = set(
        postmortem.timeline_rows.exclude(milestone="").values_list(
            "milestone", flat=True
        )
    )
    rows = PostMortemTimelineRow.objects.bulk_create(
        _milestone_rows(postmortem, postmortem.incident, skip=present)
    )
    if rows:
        now = timezone.now()
        postmortem.updated_at = now
        postmortem.save(update_fields=["updated_at"])
        _postmortem_event(
            postmortem,
            actor=actor,
            change="timeline_refreshed",
            at=now,
            added=[row.milestone for row in rows],
        )
    return rows


POSTMORTEM_TEXT_FIELDS = ("attendees", "summary", "went_well", "went_wrong")


@transaction.atomic
def edit_postmortem(
    *,
    postmortem: PostMortem,
    actor: User,
    scheduled_on: dt.date | None,
    attendees: str,
    summary: str,
    went_well: str,
    went_wrong: str,
) -> PostMortem:
    """Save the post-mortem's date, attendees and findings."""
    _require_permission(
        actor, "incidents.change_postmortem", "You may not edit post-mortems."
    )
    postmortem = _lock_postmortem(postmortem)
    values = {
        "scheduled_on": scheduled_on,
        "attendees": attendees.strip(),
        "summary": summary.strip(),
        "went_well": went_well.strip(),
        "went_wrong": went_wrong.strip(),
    }
    changed = [
        name for name, value in values.items() if getattr(postmortem, name) != value
    ]
    if not changed:
        return postmortem
    for name in changed:
        setattr(postmortem, name, values[name])
    now = timezone.now()
    postmortem.updated_at = now
    postmortem.save(update_fields=[*changed, "updated_at"])
    _postmortem_event(postmortem, actor=actor, change="edited", at=now, fields=changed)
    return postmortem


def _check_row_time(at: dt.datetime) -> None:
    if at > timezone.now():
        raise _field_error(
            "at", "A timeline row cannot be in the future.", code="future_row"
        )


@transaction.atomic
def add_postmortem_row(
    *, postmortem: PostMortem, actor: User, at: dt.datetime, text: str
) -> PostMortemTimelineRow:
    """Add a line of one's own to the post-mortem's timeline."""
    postmortem = _lock_postmortem(postmortem)
    if not text.strip():
        raise _field_error("text", "Say what happened at that time.", code="empty_row")
    _check_row_time(at)
    row = PostMortemTimelineRow.objects.create(
        postmortem=postmortem, at=at, text=text.strip(), is_edited=True
    )
    _postmortem_event(
        postmortem, actor=actor, change="row_added", at=timezone.now(), row=row.pk
    )
    return row


@transaction.atomic
def edit_postmortem_row(
    *, row: PostMortemTimelineRow, actor: User, at: dt.datetime, text: str
) -> PostMortemTimelineRow:
    """Correct a timeline line's time or words."""
    postmortem = _lock_postmortem(row.postmortem)
    row = PostMortemTimelineRow.objects.get(pk=row.pk, postmortem=postmortem)
    if not text.strip():
        raise _field_error("text", "Say what happened at that time.", code="empty_row")
    _check_row_time(at)
    if (row.at, row.text) == (at, text.strip()):
        return row
    row.at, row.text, row.is_edited = at, text.strip(), True
    row.save(update_fields=["at", "text", "is_edited"])
    _postmortem_event(
        postmortem, actor=actor, change="row_edited", at=timezone.now(), row=row.pk
    )
    return row


@transaction.atomic
def hide_postmortem_row(
    *, row: PostMortemTimelineRow, actor: User, hidden: bool = True
) -> PostMortemTimelineRow:
    """Hide a timeline line from the post-mortem (or show it again)."""
    postmortem = _lock_postmortem(row.postmortem)
    row = PostMortemTimelineRow.objects.get(pk=row.pk, postmortem=postmortem)
    if row.is_hidden == hidden:
        return row
    row.is_hidden = hidden
    row.save(update_fields=["is_hidden"])
    _postmortem_event(
        postmortem,
        actor=actor,
        change="row_hidden" if hidden else "row_shown",
        at=timezone.now(),
        row=row.pk,
    )
    return row


def end_of_day(day: dt.date) -> dt.datetime:
    """Return the last minute of ``day`` in the current (the reader's) zone."""
    return dt.datetime.combine(
        day, dt.time(23, 59), tzinfo=timezone.get_current_timezone()
    )


@transaction.atomic
def add_postmortem_action(
    *,
    postmortem: PostMortem,
    actor: User,
    what: str,
    kind: str,
    owner: User | None,
    deadline_on: dt.date | None,
) -> ActionItem:
    """Agree an action: what, which kind, who owns it and by when."""
    _require_permission(
        actor, "incidents.change_postmortem", "You may not edit post-mortems."
    )
    postmortem = _lock_postmortem(postmortem)
    errors: dict[str, ValidationError] = {}
    if not what.strip():
        errors["what"] = ValidationError(
            "Say what is to be done.", code="what_required"
        )
    if kind not in POSTMORTEM_ACTION_KINDS:
        errors["kind"] = ValidationError(
            "Pick preventive, process or monitoring.", code="bad_kind"
        )
    if owner is None:
        errors["owner"] = ValidationError(
            "Every action needs an owner.", code="owner_required"
        )
    elif not owner.is_active:
        errors["owner"] = ValidationError(
            "That person's account is inactive.", code="inactive_owner"
        )
    if deadline_on is None:
        errors["deadline_on"] = ValidationError(
            "Every action needs a deadline.", code="deadline_required"
        )
    elif deadline_on < timezone.localdate():
        errors["deadline_on"] = ValidationError(
            "The deadline is in the past.", code="deadline_past"
        )
    if errors:
        raise ValidationError(errors)
    item = ActionItem.objects.create(
        incident=postmortem.incident,
        postmortem=postmortem,
        kind=kind,
        what=what.strip(),
        who=(_person(owner) or "")[:100],
        owner=owner,
        due_at=end_of_day(deadline_on),
    )
    postmortem.updated_at = timezone.now()
    postmortem.save(update_fields=["updated_at"])
    _postmortem_event(
        postmortem,
        actor=actor,
        change="action_added",
        at=postmortem.updated_at,
        action=item.pk,
        what=item.what,
        owner=item.who,
        deadline=deadline_on.isoformat(),
    )
    return item


def postmortem_gaps(postmortem: PostMortem) -> list[str]:
    """Return what a post-mortem still lacks before review or publication."""
    gaps = []
    if not postmortem.summary.strip():
        gaps.append("a summary")
    if not postmortem.went_well.strip():
        gaps.append("what went well")
    if not postmortem.went_wrong.strip():
        gaps.append("what went wrong")
    if not postmortem.timeline_rows.filter(is_hidden=False).exists():
        gaps.append("at least one visible timeline row")
    actions = list(postmortem.action_items.all())
    if not actions:
        gaps.append("at least one action item")
    if any(a.owner_id is None or a.due_at is None for a in actions):
        gaps.append("an owner and a deadline on every action")
    return gaps


def _refuse_gaps(postmortem: PostMortem, verb: str) -> None:
    gaps = postmortem_gaps(postmortem)
    if gaps:
        raise ValidationError(
            f"The post-mortem cannot be {verb} yet: it needs {', '.join(gaps)}.",
            code="postmortem_incomplete",
        )


@transaction.atomic
def submit_postmortem_for_review(*, postmortem: PostMortem, actor: User) -> PostMortem:
    """Hand the finished draft to reviewers."""
    _require_permission(
        actor, "incidents.change_postmortem", "You may not edit post-mortems."
    )
    postmortem = _lock_postmortem(postmortem)
    if postmortem.status != PostMortem.Status.DRAFT:
        raise ValidationError("Only a draft goes to review.", code="not_draft")
    _refuse_gaps(postmortem, "sent for review")
    now = timezone.now()
    postmortem.status = PostMortem.Status.IN_REVIEW
    postmortem.submitted_by, postmortem.submitted_at = actor, now
    postmortem.updated_at = now
    postmortem.save(
        update_fields=["status", "submitted_by", "submitted_at", "updated_at"]
    )
    _postmortem_event(postmortem, actor=actor, change="submitted", at=now)
    return postmortem


@transaction.atomic
def return_postmortem_to_draft(
    *, postmortem: PostMortem, actor: User, reason: str
) -> PostMortem:
    """Send a post-mortem under review back to its authors, saying why."""
    _require_permission(
        actor, "incidents.publish_postmortem", "Only reviewers send post-mortems back."
    )
    if not reason.strip():
        raise _field_error("reason", "Say what needs changing.", code="reason_required")
    postmortem = _lock_postmortem(postmortem)
    if postmortem.status != PostMortem.Status.IN_REVIEW:
        raise ValidationError(
            "Only a post-mortem in review goes back.", code="not_in_review"
        )
    now = timezone.now()
    postmortem.status = PostMortem.Status.DRAFT
    postmortem.updated_at = now
    postmortem.save(update_fields=["status", "updated_at"])
    _postmortem_event(
        postmortem, actor=actor, change="returned", at=now, reason=reason.strip()
    )
    return postmortem


@transaction.atomic
def publish_postmortem(*, postmortem: PostMortem, actor: User) -> PostMortem:
    """Publish a reviewed post-mortem; it is read-only from then on."""
    _require_permission(
        actor, "incidents.publish_postmortem", "You may not publish post-mortems."
    )
    postmortem = _lock_postmortem(postmortem)
    if postmortem.status != PostMortem.Status.IN_REVIEW:
        raise ValidationError(
            "A post-mortem is reviewed before it is published: send it for "
            "review first.",
            code="not_in_review",
        )
    _refuse_gaps(postmortem, "published")
    now = timezone.now()
    postmortem.status = PostMortem.Status.PUBLISHED
    postmortem.published_by, postmortem.published_at = actor, now
    postmortem.updated_at = now
    postmortem.save(
        update_fields=["status", "published_by", "published_at", "updated_at"]
    )
    _postmortem_event(postmortem, actor=actor, change="published", at=now)
    return postmortem


# --- Communication plans for major incidents (issue 13 part B: seed 003) -----

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
    _require_permission(
        actor,
        "incidents.add_communicationplan",
        "You may not start communication plans.",
    )
    incident = _lock(incident, None)
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
        raise _field_error("item", "Name the item.", code="item_required")
    if values["status"] not in PlanRowStatus.values:
        raise _field_error("status", "Pick open or complete.", code="bad_status")


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
    _require_permission(
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
    _require_permission(
        actor,
        "incidents.approve_communicationplan",
        "Only reviewers send plans back.",
    )
    if not reason.strip():
        raise _field_error("reason", "Say what needs changing.", code="reason_required")
    plan = _lock_plan(plan)
    if plan.status != CommunicationPlan.Status.IN_REVIEW:
        raise ValidationError("Only a plan in review goes back.", code="not_in_review")
    now = timezone.now()
    plan.status = CommunicationPlan.Status.DRAFT
    plan.updated_at = now
    plan.save(update_fields=["status", "updated_at"])
    _plan_event(plan, actor=actor, change="returned", at=now, reason=reason.strip())
    return plan


# --- Security incident response (issue 13 part B: seed 004) ------------------


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
    """Run the incident as a security incident: 004's phases and clocks.

    Every phase deadline counts from the incident's detection time.
    """
    _require_permission(
        actor,
        "incidents.flag_security_incident",
        "You may not flag security incidents.",
    )
    if incident_type not in SecurityIncidentType.values:
        raise _field_error(
            "incident_type", "Pick the kind of security incident.", code="bad_type"
        )
    incident = _lock(incident, None)
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
    for position, shape in enumerate(security.PHASES):
        due = start + shape.due_after if shape.due_after is not None else None
        phase = SecurityPhase.objects.create(
            response=response,
            kind=shape.kind,
            starts_at=start + shape.starts_after,
            due_at=due,
            at_risk_at=security.at_risk_at(start + shape.starts_after, due)
            if due
            else None,
            position=position,
        )
        n = 0
        for group, texts in shape.checklist:
            for text in texts:
                items.append(
                    SecurityChecklistItem(
                        phase=phase, group=group, text=text, position=n
                    )
                )
                n += 1
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
        raise _field_error(
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
    record_timeline_event(
        incident=response.incident,
        kind=TimelineEvent.Kind.SECURITY_PHASE_DONE,
        actor=actor,
        at=now,
        details={
            "security_response": response.pk,
            "phase": phase.kind,
            "due_at": phase.due_at.isoformat() if phase.due_at else None,
            "on_time": phase.due_at is None or now <= phase.due_at,
        },
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
        raise _field_error(
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
        record_timeline_event(
            incident=response.incident,
            kind=TimelineEvent.Kind.REGULATORY_CLOCK_STARTED,
            actor=actor,
            at=now,
            details={
                "security_response": response.pk,
                "regime": regime.key,
                "deadline": regime.deadline_text,
                "due_at": clock.due_at.isoformat() if clock.due_at else None,
            },
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
    if earliest is not None:
        notify = response.phases.get(kind=SecurityPhaseKind.NOTIFY)
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
    record_timeline_event(
        incident=response.incident,
        kind=TimelineEvent.Kind.REGULATORY_NOTICE_SENT,
        actor=actor,
        at=now,
        details={
            "security_response": response.pk,
            "regime": clock.regime.key,
            "reference": clock.reference,
            "on_time": clock.due_at is None or now <= clock.due_at,
        },
    )
    return clock


@transaction.atomic
def record_legal_approval(
    *, response: SecurityResponse, actor: User, approver: str, note: str = ""
) -> SecurityResponse:
    """Record Legal's approval of the customer security notice.

    Until then the composer refuses the security notice template.
    """
    _require_permission(
        actor,
        "incidents.record_legal_approval",
        "You may not record Legal's approval.",
    )
    if not approver.strip():
        raise _field_error(
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
    record_timeline_event(
        incident=response.incident,
        kind=TimelineEvent.Kind.SECURITY_PHASE_DONE,
        actor=actor,
        at=now,
        details={
            "security_response": response.pk,
            "phase": "legal_approval",
            "approver": response.legal_approver,
            "note": response.legal_note,
        },
    )
    return response


def start_lessons_learned(*, response: SecurityResponse, actor: User) -> PostMortem:
    """Open the security incident's lessons-learned review as its post-mortem."""
    return start_postmortem(
        incident=response.incident, actor=actor, is_security_review=True
    )
