"""Silence escalates, as each policy target says whose silence counts.

A partner or vendor silent past the policy's delay (or, where the policy
sets none, after two follow-ups) is escalated to their management; a
customer silent past the delay sends the incident one tier up, where the
policy counts the customer's silence at all (the carrier communication
playbook does not: its silent customers' cases are closed, not escalated).
"""

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

# Where a policy sets no delay, a partner or vendor is "silent" after this
# many unanswered follow-ups (carrier communication playbook, part 7).
SILENT_AFTER_FOLLOW_UPS = 2
CUSTOMER_SILENCE = ("customer", "anyone")
PARTY_SILENCE = ("parties", "anyone")


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


def _party_silent(
    loop: FollowUpLoop, delays: dict[tuple[int, str], int], now: dt.datetime
) -> bool:
    """Whether the partner or vendor has been silent long enough: past the
    policy's delay since we first wrote after their last reply, or (where
    the policy sets no delay for them) after two unanswered follow-ups."""
    minutes = delays.get((loop.incident.policy_id, loop.incident.priority))
    if minutes is None:
        return loop.unanswered_count >= SILENT_AFTER_FOLLOW_UPS
    since = _silent_since(loop, _silence_floor(loop))
    return since is not None and now - since >= dt.timedelta(minutes=minutes)


def escalate_silent_parties(now: dt.datetime) -> int:
    delays = _no_response_delays(PARTY_SILENCE)
    loops = (
        comms_selectors.silent_party_loops(after_follow_ups=1)
        .filter(incident__status__in=ESCALATABLE_STATUSES)
        .exclude(_loop_silence_fired(Kind.PARTY_SILENT))
    )
    due = [
        loop.pk
        for loop in loops.select_related("incident")[: SWEEP_BATCH * 4]
        if _party_silent(loop, delays, now)
    ]
    done = 0
    for pk in due[:SWEEP_BATCH]:
        with transaction.atomic():
            loop = (
                FollowUpLoop.objects.select_for_update(of=("self",), **skip_locked())
                .filter(pk=pk, stopped_at__isnull=True, unanswered_count__gte=1)
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


def _no_response_delays(whose: tuple[str, ...]) -> dict[tuple[int, str], int]:
    """The delay of each policy target that counts these people's silence."""
    return {
        (policy_id, priority): minutes
        for policy_id, priority, minutes in PolicyTarget.objects.filter(
            no_response_escalation_minutes__isnull=False, no_response_from__in=whose
        ).values_list("policy_id", "priority", "no_response_escalation_minutes")
    }


def _silent_since(loop: FollowUpLoop, floor: dt.datetime) -> dt.datetime | None:
    """When we first wrote to the loop's customer, partner or vendor after
    their last reply, if we did."""
    return (
        Message.objects.filter(
            incident_id=loop.incident_id,
            audience=loop.audience,
            party_id=loop.party_id,
            status__in=comms_selectors.LIVE_MESSAGE_STATUSES,
            created_at__gte=floor,
        )
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def escalate_no_response(now: dt.datetime) -> int:
    """Escalate one tier up when the customer has not answered us for the
    delay, where the policy counts the customer's silence."""
    delays = _no_response_delays(CUSTOMER_SILENCE)
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
