"""An escalation's life after the request: approved or rejected, then
acknowledged, returned or resolved by its tier."""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from incidents import lifecycle
from incidents.models import TimelineEvent
from portal.nav_counts import forget_nav_counts

from .. import selectors
from ..models import (
    Escalation,
)
from .notices import (
    SWEEP_BATCH,
    User,
    escalation_event,
    field_error,
    lock_escalation,
    person_name,
    reach_tier,
    tell_customer,
)


def _decidable(escalation: Escalation, actor: User, verb: str) -> Escalation:
    if not actor.has_perm("escalations.approve_escalation"):
        raise PermissionDenied(f"Only managers {verb} escalations.")
    escalation = lock_escalation(escalation)
    if not escalation.is_awaiting_approval:
        who = person_name(escalation.decided_by) if escalation.decided_by_id else None
        raise ValidationError(
            "This escalation is not waiting for approval"
            + (f": {who} already decided it." if who else "."),
            code="already_decided",
        )
    if escalation.requested_by_id == actor.pk:
        raise ValidationError(
            "You asked for this escalation; another manager must decide it.",
            code="own_request",
        )
    return escalation


@transaction.atomic
def approve_escalation(*, escalation: Escalation, actor: User) -> Escalation:
    """Let an escalation that a rule held for approval reach its tier."""
    forget_nav_counts()
    escalation = _decidable(escalation, actor, "approve")
    now = timezone.now()
    escalation.status = Escalation.Status.APPROVED
    escalation.decided_by, escalation.decided_at = actor, now
    escalation.version += 1
    escalation.save()
    escalation_event(escalation, TimelineEvent.Kind.ESCALATION_APPROVED, actor, at=now)
    reach_tier(escalation, actor, now)
    already_told = (
        Escalation.objects.filter(
            incident_id=escalation.incident_id,
            created_at=escalation.created_at,
            reached_tier_at__isnull=False,
        )
        .exclude(pk=escalation.pk)
        .exists()
    )
    if not already_told:
        # In the requester's name: the customer hears from their agent.
        tell_customer(escalation, escalation.requested_by)
    return escalation


@transaction.atomic
def reject_escalation(
    *, escalation: Escalation, actor: User, reason: str
) -> Escalation:
    """Refuse an escalation that waits for approval, saying why."""
    forget_nav_counts()
    escalation = _decidable(escalation, actor, "reject")
    reason = (reason or "").strip()
    if not reason:
        raise field_error(
            "reason", "Say why the escalation is rejected.", "reason_required"
        )
    now = timezone.now()
    escalation.status = Escalation.Status.REJECTED
    escalation.decided_by, escalation.decided_at = actor, now
    escalation.decision_reason = reason
    escalation.version += 1
    escalation.save()
    escalation_event(
        escalation, TimelineEvent.Kind.ESCALATION_REJECTED, actor, at=now, reason=reason
    )
    return escalation


def _workable(escalation: Escalation, actor: User, verb: str) -> Escalation:
    if not actor.has_perm("escalations.work_escalation"):
        raise PermissionDenied(f"Your role cannot {verb} escalations.")
    escalation = lock_escalation(escalation)
    if not selectors.is_tier_member(actor, escalation.to_tier):
        raise ValidationError(
            f"Only members of {escalation.to_tier.name} can {verb} this escalation.",
            code="not_tier_member",
        )
    return escalation


@transaction.atomic
def acknowledge_escalation(*, escalation: Escalation, actor: User) -> Escalation:
    """Take an escalation in the tier's queue, as one of its members."""
    escalation = _workable(escalation, actor, "acknowledge")
    if not escalation.is_waiting_for_tier:
        raise ValidationError(
            f"This escalation is {escalation.get_status_display().lower()}"
            + (
                " and still waits for a manager's approval"
                if escalation.is_awaiting_approval
                else ""
            )
            + "; only escalations waiting in the queue can be acknowledged.",
            code="not_waiting",
        )
    now = timezone.now()
    escalation.status = Escalation.Status.ACKNOWLEDGED
    escalation.acknowledged_by, escalation.acknowledged_at = actor, now
    escalation.version += 1
    escalation.save()
    escalation_event(
        escalation, TimelineEvent.Kind.ESCALATION_ACKNOWLEDGED, actor, at=now
    )
    return escalation


@transaction.atomic
def return_escalation(
    *, escalation: Escalation, actor: User, reason: str
) -> Escalation:
    """Send an escalation back to whoever raised it, saying why."""
    escalation = _workable(escalation, actor, "return")
    if escalation.reached_tier_at is None or not escalation.is_open:
        raise ValidationError(
            "Only escalations in the tier's queue can be returned.",
            code="not_in_queue",
        )
    reason = (reason or "").strip()
    if not reason:
        raise field_error(
            "reason", "Say why it goes back to the sender.", "reason_required"
        )
    now = timezone.now()
    escalation.status = Escalation.Status.RETURNED
    escalation.closed_by, escalation.closed_at = actor, now
    escalation.outcome = reason
    escalation.version += 1
    escalation.save()
    escalation_event(
        escalation, TimelineEvent.Kind.ESCALATION_RETURNED, actor, at=now, reason=reason
    )
    return escalation


@transaction.atomic
def resolve_escalation(
    *, escalation: Escalation, actor: User, outcome: str = ""
) -> Escalation:
    """Mark the tier's part done, with what it did."""
    escalation = _workable(escalation, actor, "resolve")
    if escalation.status != Escalation.Status.ACKNOWLEDGED:
        raise ValidationError(
            "Acknowledge the escalation before resolving it.",
            code="not_acknowledged",
        )
    if not (outcome or "").strip():
        # Whoever escalated, and the post-mortem, read what the tier did.
        raise field_error(
            "outcome", "Say what the tier did to resolve it.", "outcome_required"
        )
    now = timezone.now()
    escalation.status = Escalation.Status.RESOLVED
    escalation.closed_by, escalation.closed_at = actor, now
    escalation.outcome = (outcome or "").strip()
    escalation.version += 1
    escalation.save()
    escalation_event(
        escalation,
        TimelineEvent.Kind.ESCALATION_RESOLVED,
        actor,
        at=now,
        reason=escalation.outcome,
    )
    return escalation


def _following_the_incident(matching: Q, *, closed: bool):
    """Yield, each locked in a transaction of its own, the escalations that
    match and whose incident is (``closed``) or is no longer closed.

    Listed first, then re-checked under the lock: the incident's status is
    read at the moment of the act.
    """
    open_statuses = lifecycle.runs_while("escalations")
    listed = Escalation.objects.filter(matching)
    listed = (
        listed.exclude(incident__status__in=open_statuses)
        if closed
        else listed.filter(incident__status__in=open_statuses)
    )
    for pk in list(listed.values_list("pk", flat=True)[:SWEEP_BATCH]):
        with transaction.atomic():
            escalation = (
                Escalation.objects.select_for_update(of=("self",))
                .select_related("incident", "to_tier")
                .filter(matching, pk=pk)
                .first()
            )
            if escalation is not None and closed != lifecycle.runs(
                "escalations", escalation.incident.status
            ):
                yield escalation


def end_escalations_of_closed_incidents(now: dt.datetime) -> int:
    """End every open escalation whose incident has closed.

    Closing is the incidents app's act, which cannot reach escalations; the
    queues and reminders already read the incident's status, so until this
    runs (within the minute) nothing is sent or counted down for it.
    """
    ended = 0
    for escalation in _following_the_incident(
        Q(status__in=Escalation.OPEN_STATUSES), closed=True
    ):
        escalation.ended_from = escalation.status
        escalation.status = Escalation.Status.ENDED
        escalation.closed_at = now
        escalation.outcome = (
            f"{escalation.incident.reference} was "
            f"{escalation.incident.get_status_display().lower()}."
        )
        escalation.version += 1
        escalation.save()
        escalation_event(
            escalation,
            TimelineEvent.Kind.ESCALATION_ENDED,
            None,
            at=now,
            reason=escalation.outcome,
        )
        ended += 1
    if ended:
        forget_nav_counts()
    return ended


def restore_escalations_of_reopened_incidents(now: dt.datetime) -> int:
    """Put back in their queues the escalations a closing ended, once reopened."""
    restored = 0
    for escalation in _following_the_incident(
        Q(status=Escalation.Status.ENDED) & ~Q(ended_from=""), closed=False
    ):
        escalation.status, escalation.ended_from = escalation.ended_from, ""
        escalation.closed_at = None
        escalation.outcome = ""
        escalation.version += 1
        escalation.save()
        escalation_event(
            escalation, TimelineEvent.Kind.ESCALATION_RESTORED, None, at=now
        )
        if (
            escalation.reached_tier_at is not None
            and escalation.status != Escalation.Status.ACKNOWLEDGED
        ):
            # Back in the queue as a new arrival: the tier hears of it and
            # its reminders count from now.
            reach_tier(escalation, None, now)
        restored += 1
    return restored
