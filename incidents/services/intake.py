"""Opening an incident: the form's rules, the severity advice, the customers it
touches and its immediate actions."""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import (
    ActionItem,
    AffectedCustomer,
    Category,
    Customer,
    Incident,
    JourneyMilestone,
    SeverityCriterion,
    Signal,
    TimelineEvent,
)
from .policy import apply_deadlines, check_policy_choices, policy_for
from .records import User, field_error, lock_incident, record_timeline_event
from .tags import merged_tags


def check_incident_rules(incident: Incident, now: dt.datetime) -> None:
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
    check_incident_rules(incident, now)
    incident.policy = policy_for(customer)
    criteria = list(severity_criteria or [])
    decided_by = check_policy_choices(
        policy=incident.policy,
        category=category,
        priority=priority,
        criteria=criteria,
        reason=priority_reason,
    )
    incident.priority_reason = priority_reason.strip() if decided_by else ""
    apply_deadlines(incident)
    incident.tags = merged_tags(incident, extra_tags or [])
    incident.full_clean()
    incident.save()
    incident.severity_criteria.set(criteria)
    ActionItem.objects.bulk_create(
        ActionItem(incident=incident, kind=ActionItem.Kind.IMMEDIATE, **action)
        for action in immediate_actions or []
    )
    save_journey(incident, journey or {})
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


def save_journey(
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
def add_affected_customer(
    *,
    incident: Incident,
    actor: User,
    customer: Customer,
    status_before: str = "",
) -> AffectedCustomer:
    """List one more customer hit by a systemic incident."""
    incident = lock_incident(incident, None)
    if not incident.is_systemic:
        raise ValidationError(
            "Only systemic incidents list affected customers; this one has its "
            "own customer.",
            code="not_systemic",
        )
    if incident.affected_customers.filter(customer=customer).exists():
        raise field_error(
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
    incident = lock_incident(incident, None)
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
