"""An incident's life after intake: edits, status moves, reopening, the owner,
the first response and each person's time zone."""

import datetime as dt
import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import (
    lifecycle,
)
from ..models import (
    Incident,
    SeverityCriterion,
    StaffProfile,
    TimelineEvent,
)
from .closure import sync_checklists, take_back_resolution_evidence
from .intake import check_incident_rules, save_journey
from .policy import (
    SLA_INPUT_FIELDS,
    check_policy_choices,
    policy_for,
    recompute_sla,
)
from .records import (
    User,
    field_error,
    lock_incident,
    person_name,
    record_timeline_event,
    save_status,
    shown_value,
)
from .resolution import closure_blockers, closure_refusal_message, start_monitoring
from .tags import custom_tags, merged_tags

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
    incident = lock_incident(incident, expected_version)
    now = timezone.now()
    changed: dict[str, list[Any]] = {}
    for field, value in changes.items():
        old = getattr(incident, field)
        if _same_to_the_minute(old, value):
            # The form shows times to the minute: the seconds it cannot show
            # are not an edit.
            continue
        if old != value:
            changed[field] = [shown_value(old), shown_value(value)]
            setattr(incident, field, value)
    check_incident_rules(incident, now)
    policy_before = incident.policy_id
    if changed.keys() & SLA_INPUT_FIELDS:
        incident.policy = policy_for(incident.customer)
    before = list(incident.severity_criteria.all())
    criteria = before if severity_criteria is None else list(severity_criteria)
    check_policy_choices(
        policy=incident.policy,
        # An incident filed before its policy had categories of its own keeps
        # its category through other edits.
        category=incident.category
        if "category" in changed or incident.policy_id != policy_before
        else None,
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
    new_tags = merged_tags(
        incident, extra_tags if extra_tags is not None else custom_tags(incident)
    )
    if new_tags != incident.tags:
        changed["tags"] = [incident.tags, new_tags]
        incident.tags = new_tags
    changed |= save_journey(incident, journey or {})
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
        recompute_sla(incident, actor=actor, at=now)
    if changed.keys() & CHECKLIST_FACT_FIELDS and (
        incident.resolved_at is not None or incident.checklists.exists()
    ):
        sync_checklists(incident, now=now, actor=actor)
    return incident


def _same_to_the_minute(old: Any, new: Any) -> bool:
    if not (isinstance(old, dt.datetime) and isinstance(new, dt.datetime)):
        return False
    return old.replace(second=0, microsecond=0) == new.replace(second=0, microsecond=0)


# Fields whose change can make a checklist item apply or stop applying.
CHECKLIST_FACT_FIELDS = {
    "priority",
    "is_systemic",
    "amount_paid",
    "root_cause",
    "is_partner_action_needed",
    "is_vendor_action_needed",
}


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
    incident = lock_incident(incident, expected_version)
    reason = lifecycle.refusal_reason(incident.status, to_status)
    if reason:
        raise ValidationError(reason, code="transition_refused")
    now = timezone.now()
    if to_status in Incident.CLOSED_STATUSES:
        # The close guard (close_incident records refusals; this path only
        # refuses, for callers that move without it).
        sync_checklists(incident, now=now, actor=actor)
        blockers = closure_blockers(incident, to_status=to_status, now=now)
        if blockers:
            raise ValidationError(
                closure_refusal_message(blockers), code="closure_blocked"
            )
    from_status = incident.status
    incident.status = to_status
    if to_status == Incident.Status.RESOLVED:
        incident.resolved_at = now
        start_monitoring(incident, now)
    elif (
        from_status == Incident.Status.RESOLVED
        and to_status not in Incident.CLOSED_STATUSES
    ):
        incident.resolved_at = incident.monitoring_ends_at = None
    if to_status in Incident.CLOSED_STATUSES:
        incident.closed_at = now
    # Checklist entries first, so the status change stays the latest event.
    if to_status == Incident.Status.RESOLVED:
        sync_checklists(incident, now=now, actor=actor)
    elif (
        from_status == Incident.Status.RESOLVED
        and to_status not in Incident.CLOSED_STATUSES
    ):
        # Back to work: the next resolution must earn its evidence again.
        # Closing keeps it, or the closed incident shows open items.
        take_back_resolution_evidence(incident, now=now, actor=actor)
    save_status(
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
        raise field_error(
            "reason", "Say why the incident is reopened.", code="reason_required"
        )
    incident = lock_incident(incident, expected_version)
    if incident.status not in lifecycle.REOPENABLE:
        raise ValidationError(
            "Only closed incidents can be reopened.", code="not_closed"
        )
    now = timezone.now()
    from_status = incident.status
    previous = {
        "resolved_at": shown_value(incident.resolved_at),
        "closed_at": shown_value(incident.closed_at),
    }
    incident.status = Incident.Status.INVESTIGATING
    incident.resolved_at = incident.closed_at = incident.monitoring_ends_at = None
    take_back_resolution_evidence(incident, now=now, actor=actor)
    save_status(
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
    incident = lock_incident(incident, expected_version)
    if incident.owner_id == (owner.pk if owner else None):
        raise ValidationError("That is already the owner.", code="same_owner")
    if owner is not None and not owner.is_active:
        raise field_error(
            "owner", "That person's account is inactive.", code="inactive_owner"
        )
    now = timezone.now()
    previous = person_name(incident.owner)
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
            "changes": {"owner": [previous, person_name(owner)]},
        },
    )
    return incident


@transaction.atomic
def run_war_room(
    *,
    incident: Incident,
    actor: User,
    call_url: str,
    commander: User | None,
    expected_version: int | None = None,
) -> Incident:
    """Open a Sev 1's war room, or change its call or commander.

    From the fleet escalation playbook, step 5: a call link, the people its
    policy invites, and an incident commander who leads the room.
    """
    incident = lock_incident(incident, expected_version)
    if not incident.policy.war_room_roles:
        raise ValidationError(
            f"The {incident.policy.name} policy runs no war rooms; an admin "
            "can list who joins one on the policy.",
            code="no_war_rooms",
        )
    if incident.priority != "P1" and not incident.war_room_opened_at:
        raise ValidationError(
            "A war room is for Sev 1 (P1) incidents.", code="not_sev_1"
        )
    if not incident.is_open:
        raise ValidationError(
            f"{incident.reference} is {incident.get_status_display().lower()}.",
            code="incident_not_open",
        )
    if commander is not None and not commander.is_active:
        raise field_error(
            "commander", "That person's account is inactive.", code="inactive"
        )
    if call_url == incident.war_room_url and commander == incident.commander:
        raise ValidationError("Nothing changed.", code="unchanged")
    now = timezone.now()
    opening = incident.war_room_opened_at is None
    changes = {}
    if call_url != incident.war_room_url:
        changes["war_room_url"] = [incident.war_room_url, call_url]
    if commander != incident.commander:
        changes["commander"] = [
            person_name(incident.commander) if incident.commander else "",
            person_name(commander) if commander else "",
        ]
    incident.war_room_url = call_url
    incident.commander = commander
    incident.war_room_opened_at = incident.war_room_opened_at or now
    incident.version += 1
    incident.updated_at = now
    incident.save(
        update_fields=[
            "war_room_url",
            "commander",
            "war_room_opened_at",
            "version",
            "updated_at",
        ]
    )
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.WAR_ROOM,
        actor=actor,
        at=now,
        details={
            "version": incident.version,
            "opened": opening,
            "invited": incident.policy.war_room_roles if opening else [],
            "changes": changes,
        },
    )
    return incident


@transaction.atomic
def record_first_response(
    *,
    incident: Incident,
    actor: User | None,
    responded_at: dt.datetime | None = None,
    channel: str = "",
) -> Incident:
    """Stamp the first reply to the customer and the SLA result it earned."""
    incident = lock_incident(incident, None)
    if incident.first_response_at is not None:
        raise ValidationError(
            "The first response is already recorded.", code="already_responded"
        )
    now = timezone.now()
    responded_at = responded_at or now
    if responded_at > now:
        raise field_error(
            "responded_at",
            "The response cannot be in the future.",
            code="future_response",
        )
    if responded_at < incident.created_at:
        raise field_error(
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
def choose_time_zone(*, user: User, time_zone: str) -> StaffProfile:
    """Set the zone a person reads times in."""
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise field_error(
            "time_zone", f"“{time_zone}” is not a known time zone.", code="unknown_zone"
        ) from None
    profile, _ = StaffProfile.objects.update_or_create(
        user=user, defaults={"time_zone": time_zone}
    )
    return profile
