"""Silence escalates: a partner or vendor who stops answering our follow-ups,
and incidents with no response past the policy's delay."""

import datetime as dt

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.db.models.functions import Coalesce, Greatest

from comms import selectors as comms_selectors
from comms.models import (
    Audience,
    Channel,
    FollowUpLoop,
    Message,
)
from incidents.models import PolicyTarget, TimelineEvent
from incidents.services import record_timeline_event

from ..models import EscalationFiring, Urgency
from .notices import (
    ESCALATABLE_STATUSES,
    SWEEP_BATCH,
    claim_firing,
    skip_locked,
)
from .rule_messages import (
    Kind,
    escalate_one_tier_up,
    locked_incident,
    send_rule_template,
    stamp,
)

# Carrier communication playbook, part 7: a partner or vendor is "silent"
# after this many follow-ups.
SILENT_AFTER_FOLLOW_UPS = 2


def _silence_floor(loop: FollowUpLoop) -> dt.datetime:
    """When the loop's current silence began to count (its last reply or start)."""
    if loop.last_reply_at and loop.last_reply_at > loop.started_at:
        return loop.last_reply_at
    return loop.started_at


def _loop_silence_fired(kind: str) -> Exists:
    """The loop's current silence episode has already fired ``kind``."""
    return Exists(
        EscalationFiring.objects.filter(
            kind=kind,
            incident_id=OuterRef("incident_id"),
            slot=OuterRef("pk"),
            fired_at__gte=Greatest(
                Coalesce(OuterRef("last_reply_at"), OuterRef("started_at")),
                OuterRef("started_at"),
            ),
        )
    )


def escalate_silent_parties(now: dt.datetime) -> int:
    loops = (
        comms_selectors.silent_party_loops(after_follow_ups=SILENT_AFTER_FOLLOW_UPS)
        .filter(incident__status__in=ESCALATABLE_STATUSES)
        .exclude(_loop_silence_fired(Kind.PARTY_SILENT))
    )
    done = 0
    for pk in list(loops.values_list("pk", flat=True)[:SWEEP_BATCH]):
        with transaction.atomic():
            loop = (
                FollowUpLoop.objects.select_for_update(of=("self",), **skip_locked())
                .filter(
                    pk=pk,
                    stopped_at__isnull=True,
                    unanswered_count__gte=SILENT_AFTER_FOLLOW_UPS,
                )
                .select_related("incident__customer", "incident__category", "party")
                .first()
            )
            if loop is None or not claim_firing(
                f"party_silent:{loop.pk}:{stamp(_silence_floor(loop))}",
                Kind.PARTY_SILENT,
                incident_id=loop.incident_id,
                now=now,
                slot=loop.pk,
            ):
                continue
            party = loop.party
            contact = party.escalation_email or party.support_email
            message = send_rule_template(
                loop.incident,
                key=f"{loop.audience}-escalation",
                audience=loop.audience,
                channel=Channel.EMAIL,
                recipients=[contact],
                party=party,
            )
            record_timeline_event(
                incident=loop.incident,
                kind=TimelineEvent.Kind.PARTY_SILENT,
                actor=None,
                at=now,
                details={
                    "loop": loop.pk,
                    "party": party.name,
                    "audience": loop.audience,
                    "unanswered": loop.unanswered_count,
                    "escalated_to": contact,
                    "message": message.pk if message else None,
                },
            )
            done += 1
    return done


def _no_response_delays() -> dict[tuple[int, str], int]:
    return {
        (policy_id, priority): minutes
        for policy_id, priority, minutes in PolicyTarget.objects.filter(
            no_response_escalation_minutes__isnull=False
        ).values_list("policy_id", "priority", "no_response_escalation_minutes")
    }


def _silent_since(loop: FollowUpLoop, floor: dt.datetime) -> dt.datetime | None:
    """When we first wrote to the customer after their last reply, if we did."""
    return (
        Message.objects.filter(
            incident_id=loop.incident_id,
            audience=Audience.CUSTOMER,
            status__in=comms_selectors.LIVE_MESSAGE_STATUSES,
            created_at__gte=floor,
        )
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def escalate_no_response(now: dt.datetime) -> int:
    """Escalate one tier up when the customer has not answered us for the delay."""
    delays = _no_response_delays()
    if not delays:
        return 0
    # Loops we wrote on since the customer's last reply, long enough ago
    # for the shortest delay; each is then held to its own priority's delay.
    wrote = Exists(
        Message.objects.filter(
            incident_id=OuterRef("incident_id"),
            audience=Audience.CUSTOMER,
            status__in=comms_selectors.LIVE_MESSAGE_STATUSES,
            created_at__gte=Greatest(
                Coalesce(OuterRef("last_reply_at"), OuterRef("started_at")),
                OuterRef("started_at"),
            ),
            created_at__lte=now - dt.timedelta(minutes=min(delays.values())),
        )
    )
    loops = (
        FollowUpLoop.objects.filter(
            wrote,
            audience=Audience.CUSTOMER,
            stopped_at__isnull=True,
            incident__status__in=ESCALATABLE_STATUSES,
        )
        .exclude(_loop_silence_fired(Kind.NO_RESPONSE))
        .select_related("incident")
        .order_by("id")
    )
    done = 0
    for loop in loops[:SWEEP_BATCH]:
        minutes = delays.get((loop.incident.policy_id, loop.incident.priority))
        if minutes is None:
            continue
        floor = _silence_floor(loop)
        since = _silent_since(loop, floor)
        if since is None or now - since < dt.timedelta(minutes=minutes):
            continue
        with transaction.atomic():
            incident = locked_incident(loop.incident_id, ESCALATABLE_STATUSES)
            if incident is None:
                continue
            if not claim_firing(
                f"no_response:{loop.pk}:{stamp(floor)}",
                Kind.NO_RESPONSE,
                incident_id=incident.pk,
                now=now,
                slot=loop.pk,
            ):
                continue
            escalation = escalate_one_tier_up(
                incident,
                now=now,
                reason=f"No reply from the customer for {minutes // 60} h",
                urgency=Urgency.HIGH,
            )
            done += escalation is not None
    return done
