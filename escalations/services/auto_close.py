"""Quiet incidents close themselves: confirmed fixes, resolved incidents whose
customer stays silent after a check-in, and waits on a customer who never
answers. Every close goes through the closure guard."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery

from comms.models import (
    Reply,
)
from incidents.models import Incident, Policy, TimelineEvent
from incidents.services import close_incident

from ..models import EscalationFiring
from .notices import (
    SWEEP_BATCH,
    claim_firing,
)
from .rule_messages import Kind, locked_incident, stamp, tell_customer_template

# The auto-close steps, kept in EscalationFiring.slot to tell them apart.
CHECK_IN, CLOSED_RESOLVED, CLOSED_CONFIRMED, CLOSED_PENDING = 1, 2, 3, 4


# An auto-close the closure guard refused waits this long before the next
# try, so incidents stuck on their checklist do not take every sweep's
# batch from the ones behind them. A person can still close it at once.
BLOCKED_CLOSE_RETRY = dt.timedelta(minutes=30)


def _last_customer_reply() -> Subquery:
    return Subquery(
        Reply.objects.filter(incident=OuterRef("pk"), sender_kind=Reply.From.CUSTOMER)
        .order_by("-received_at")
        .values("received_at")[:1]
    )


def _close(
    incident: Incident,
    *,
    to_status: str,
    note: str,
    step: int,
    anchor: dt.datetime,
    now: dt.datetime,
    template_key: str,
) -> bool:
    """Close through the guard, then tell the customer; False when refused.

    The caller holds the incident's row lock and has re-checked its status,
    so one sweep closes it. A refusal is left on the timeline by
    close_incident itself (once per distinct list of blockers).
    """
    try:
        close_incident(
            incident=incident,
            actor=None,
            to_status=to_status,
            note=note,
            kind=TimelineEvent.Kind.AUTO_CLOSED,
        )
    except ValidationError:
        EscalationFiring.objects.update_or_create(
            key=f"auto_close_blocked:{incident.pk}",
            defaults={
                "kind": Kind.AUTO_CLOSE_BLOCKED,
                "incident_id": incident.pk,
                "slot": step,
                "fired_at": now,
            },
        )
        return False
    claim_firing(
        f"auto_close:{incident.pk}:{step}:{stamp(anchor)}",
        Kind.AUTO_CLOSE,
        incident_id=incident.pk,
        now=now,
        slot=step,
    )
    tell_customer_template(incident, template_key)
    return True


def _monitoring_over(now: dt.datetime) -> Q:
    return Q(monitoring_ends_at__isnull=True) | Q(monitoring_ends_at__lte=now)


def _close_not_blocked_lately(now: dt.datetime) -> Q:
    """Leave out incidents whose auto-close the guard refused a moment ago."""
    return ~Q(
        Exists(
            EscalationFiring.objects.filter(
                incident=OuterRef("pk"),
                kind=Kind.AUTO_CLOSE_BLOCKED,
                fired_at__gt=now - BLOCKED_CLOSE_RETRY,
            )
        )
    )


def close_confirmed(now: dt.datetime) -> int:
    """Resolved and the customer confirmed (or said "all good"): close, thank."""
    confirmed = Exists(
        Reply.objects.filter(
            incident=OuterRef("pk"),
            kind=Reply.Kind.CONFIRMED,
            received_at__gte=OuterRef("resolved_at"),
        )
    )
    due = Incident.objects.filter(
        _monitoring_over(now),
        _close_not_blocked_lately(now),
        confirmed,
        status=Incident.Status.RESOLVED,
    )
    done = 0
    for pk in list(
        due.order_by("resolved_at", "id").values_list("pk", flat=True)[:SWEEP_BATCH]
    ):
        with transaction.atomic():
            incident = locked_incident(pk, [Incident.Status.RESOLVED])
            if incident is None:
                continue
            done += _close(
                incident,
                to_status=Incident.Status.CLOSED,
                note="The customer confirmed the fix.",
                step=CLOSED_CONFIRMED,
                anchor=incident.resolved_at,
                now=now,
                template_key="customer-thank-you",
            )
    return done


def _check_in_fired_at(incident_id: int, anchor: dt.datetime) -> dt.datetime | None:
    return (
        EscalationFiring.objects.filter(
            kind=Kind.AUTO_CLOSE,
            incident_id=incident_id,
            slot=CHECK_IN,
            fired_at__gte=anchor,
        )
        .values_list("fired_at", flat=True)
        .first()
    )


def close_silent_resolved(now: dt.datetime) -> tuple[int, int]:
    """Resolved and silent: the check-in first, then close as resolved."""
    check_ins = closed = 0
    for policy in Policy.objects.only(
        "pk", "check_in_after_resolved_minutes", "close_after_check_in_minutes"
    ):
        silence = dt.timedelta(minutes=policy.check_in_after_resolved_minutes)
        wait = dt.timedelta(minutes=policy.close_after_check_in_minutes)
        due = (
            Incident.objects.filter(
                _close_not_blocked_lately(now),
                policy=policy,
                status=Incident.Status.RESOLVED,
                resolved_at__lte=now - silence,
            )
            .annotate(last_reply_at=_last_customer_reply())
            .filter(Q(last_reply_at__isnull=True) | Q(last_reply_at__lte=now - silence))
            .values_list("pk", "resolved_at", "last_reply_at", "monitoring_ends_at")
            .order_by("resolved_at", "id")
        )
        for pk, resolved_at, last_reply_at, monitoring_ends_at in due[:SWEEP_BATCH]:
            anchor = max(resolved_at, last_reply_at or resolved_at)
            checked_in_at = _check_in_fired_at(pk, anchor)
            if checked_in_at is None:
                with transaction.atomic():
                    incident = locked_incident(pk, [Incident.Status.RESOLVED])
                    if incident is None or not claim_firing(
                        f"auto_close:{pk}:{CHECK_IN}:{stamp(anchor)}",
                        Kind.AUTO_CLOSE,
                        incident_id=pk,
                        now=now,
                        slot=CHECK_IN,
                    ):
                        continue
                    tell_customer_template(incident, "customer-checking-in")
                    check_ins += 1
                continue
            if now - checked_in_at < wait or (
                monitoring_ends_at is not None and monitoring_ends_at > now
            ):
                continue
            with transaction.atomic():
                incident = locked_incident(pk, [Incident.Status.RESOLVED])
                if incident is None:
                    continue
                closed += _close(
                    incident,
                    to_status=Incident.Status.CLOSED,
                    note="No reply from the customer since the check-in.",
                    step=CLOSED_RESOLVED,
                    anchor=anchor,
                    now=now,
                    template_key="customer-auto-close-resolved",
                )
    return check_ins, closed


def _waiting_since() -> Subquery:
    """When the incident last moved to waiting on the customer."""
    return Subquery(
        TimelineEvent.objects.filter(
            incident=OuterRef("pk"),
            details__changes__status__1=Incident.Status.WAITING_CUSTOMER,
        )
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )


def close_waiting_on_customer(now: dt.datetime) -> int:
    """Waiting on the customer's information too long: close as pending."""
    closed = 0
    waiting = Incident.Status.WAITING_CUSTOMER
    for policy in Policy.objects.only("pk", "close_pending_after_minutes"):
        cutoff = now - dt.timedelta(minutes=policy.close_pending_after_minutes)
        due = (
            Incident.objects.filter(
                _close_not_blocked_lately(now), policy=policy, status=waiting
            )
            .annotate(
                waiting_since=_waiting_since(), last_reply_at=_last_customer_reply()
            )
            .filter(waiting_since__lte=cutoff)
            .filter(Q(last_reply_at__isnull=True) | Q(last_reply_at__lte=cutoff))
            .values_list("pk", "waiting_since", "last_reply_at")
            .order_by("waiting_since", "id")
        )
        for pk, since, last_reply_at in due[:SWEEP_BATCH]:
            with transaction.atomic():
                incident = locked_incident(pk, [waiting])
                if incident is None:
                    continue
                closed += _close(
                    incident,
                    to_status=Incident.Status.CLOSED_PENDING,
                    note="No reply from the customer while we waited for them.",
                    step=CLOSED_PENDING,
                    anchor=max(since, last_reply_at or since),
                    now=now,
                    template_key="customer-auto-close-waiting",
                )
    return closed
