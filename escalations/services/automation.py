"""The automation rules the sweep runs (issue 14, 000 parts 6 and 7).

Silence and deadlines raise alarms and escalate; quiet incidents close
themselves. Each firing claims a unique key in EscalationFiring first (or,
for a close, holds the incident's row lock and re-checks its status), so
two sweeps side by side, or a retried one, never do a step twice.
Every message goes through comms, so delivery rules and de-duplication
apply; every close goes through the closure guard.
"""

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Greatest

from comms import selectors as comms_selectors
from comms import services as comms_services
from comms.models import (
    Audience,
    Channel,
    ExternalParty,
    FollowUpLoop,
    Message,
    MessageTemplate,
    Reply,
)
from incidents.models import Incident, Policy, PolicyTarget, TimelineEvent
from incidents.services import close_incident, record_timeline_event

from .. import selectors
from ..models import Escalation, EscalationFiring, EscalationRule, Path, Urgency
from .routing import (
    ESCALATABLE_STATUSES,
    SWEEP_BATCH,
    _add_tag,
    _claim,
    _event,
    _reach_tier,
    _skip_locked,
)

logger = logging.getLogger(__name__)
Kind = EscalationFiring.Kind

# 000 part 7: a partner or vendor is "silent" after this many follow-ups.
SILENT_AFTER_FOLLOW_UPS = 2
# The auto-close steps, kept in EscalationFiring.slot to tell them apart.
CHECK_IN, CLOSED_RESOLVED, CLOSED_CONFIRMED, CLOSED_PENDING = 1, 2, 3, 4
# An auto-close the closure guard refused waits this long before the next
# try, so incidents stuck on their checklist do not take every sweep's
# batch from the ones behind them. A person can still close it at once.
BLOCKED_CLOSE_RETRY = dt.timedelta(minutes=30)


def _stamp(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _urgent_channel() -> str:
    return getattr(settings, "ESCALATION_URGENT_CHANNEL", "#cs-urgent")


def _send_template(
    incident: Incident,
    *,
    key: str,
    audience: str,
    channel: str,
    recipients: list[str],
    party: ExternalParty | None = None,
    prefix: str = "",
) -> Message | None:
    """Send the library template ``key`` through comms; None if it cannot go.

    A message that cannot go (no address, a retired template) must not undo
    the rule's record, so it runs in a savepoint and is logged.
    """
    template = (
        MessageTemplate.objects.filter(
            key=key, is_active=True, current_version__isnull=False
        )
        .select_related("current_version")
        .first()
    )
    if template is None or not recipients:
        logger.warning("Rule message %s for %s not sent.", key, incident.reference)
        return None
    try:
        with transaction.atomic():
            return comms_services.send_template(
                incident=incident,
                version=template.current_version,
                actor=None,
                audience=audience,
                channel=channel,
                stage=template.stage,
                situation=template.situation,
                recipients=recipients,
                party=party,
                prefix=prefix,
            )
    except ValidationError as exc:
        logger.warning(
            "Rule message %s for %s not sent: %s", key, incident.reference, exc
        )
        return None


def _tell_customer(incident: Incident, key: str) -> Message | None:
    return _send_template(
        incident,
        key=key,
        audience=Audience.CUSTOMER,
        channel=Channel.EMAIL,
        recipients=comms_selectors.customer_addresses(incident),
    )


def _post_urgent_alert(incident: Incident, prefix: str) -> Message | None:
    return _send_template(
        incident,
        key="internal-urgent-escalation",
        audience=Audience.INTERNAL,
        channel=Channel.CHAT,
        recipients=[_urgent_channel()],
        prefix=prefix,
    )


def escalate_one_tier_up(
    incident: Incident, *, now: dt.datetime, reason: str, urgency: str
) -> Escalation | None:
    """Hand the incident to the tier above the one it sits at, as the system.

    None when its policy has no tier above (or no tiers at all).
    """
    facts = selectors.rule_facts(incident, now=now)
    tier = selectors.next_tier(facts.current_tier, facts.tiers)
    if tier is None:
        return None
    escalation = Escalation.objects.create(
        incident=incident,
        path=tier.default_path or Path.L2,
        from_tier=facts.current_tier,
        to_tier=tier,
        urgency=urgency,
        summary=reason,
        why="Raised by the portal's automatic rules.",
        created_at=now,
    )
    _add_tag(incident, tier.tag, now)
    _event(
        escalation,
        TimelineEvent.Kind.ESCALATION_TRIGGERED,
        None,
        at=now,
        rule=reason,
        reasons=[reason],
        urgency=urgency,
        version=incident.version,
    )
    _reach_tier(escalation, None, now)
    return escalation


def _locked_incident(pk: int, statuses) -> Incident | None:
    return (
        Incident.objects.select_for_update(of=("self",), **_skip_locked())
        .select_related("customer", "category", "policy")
        .filter(pk=pk, status__in=list(statuses))
        .first()
    )


# ---------------------------------------------------------------------------
# Partner or vendor silent after two follow-ups (TRIG-000-1, TRIG-000-2)


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


def _escalate_silent_parties(now: dt.datetime) -> int:
    loops = (
        comms_selectors.silent_party_loops(after_follow_ups=SILENT_AFTER_FOLLOW_UPS)
        .filter(incident__status__in=ESCALATABLE_STATUSES)
        .exclude(_loop_silence_fired(Kind.PARTY_SILENT))
    )
    done = 0
    for pk in list(loops.values_list("pk", flat=True)[:SWEEP_BATCH]):
        with transaction.atomic():
            loop = (
                FollowUpLoop.objects.select_for_update(of=("self",), **_skip_locked())
                .filter(
                    pk=pk,
                    stopped_at__isnull=True,
                    unanswered_count__gte=SILENT_AFTER_FOLLOW_UPS,
                )
                .select_related("incident__customer", "incident__category", "party")
                .first()
            )
            if loop is None or not _claim(
                f"party_silent:{loop.pk}:{_stamp(_silence_floor(loop))}",
                Kind.PARTY_SILENT,
                incident_id=loop.incident_id,
                now=now,
                slot=loop.pk,
            ):
                continue
            party = loop.party
            contact = party.escalation_email or party.support_email
            message = _send_template(
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


# ---------------------------------------------------------------------------
# Deadline at risk and breached (TRIG-000-5)


def _has_breach_rule(policy_id: int) -> bool:
    """Whether a policy's own "SLA breach imminent" rule already escalates."""
    return EscalationRule.objects.filter(
        policy_id=policy_id,
        is_active=True,
        is_time_based=True,
        sla_breach_within_minutes__isnull=False,
    ).exists()


def _alert_deadlines_at_risk(now: dt.datetime) -> int:
    """Alert the urgent channel once per deadline, and escalate one tier up.

    A policy with its own "SLA breach imminent" rule escalates through that
    rule (routing.due_work); this one then only alerts, so nothing doubles.
    """
    fired = Exists(
        EscalationFiring.objects.filter(
            kind=Kind.SLA_AT_RISK,
            incident_id=OuterRef("pk"),
            fired_at__gte=OuterRef("resolution_at_risk_at"),
        )
    )
    due = Incident.objects.filter(
        status__in=ESCALATABLE_STATUSES,
        resolution_at_risk_at__lte=now,
        resolution_due_at__gt=now,
    ).exclude(fired)
    done = 0
    for pk in list(
        due.order_by("resolution_due_at", "id").values_list("pk", flat=True)[
            :SWEEP_BATCH
        ]
    ):
        with transaction.atomic():
            incident = _locked_incident(pk, ESCALATABLE_STATUSES)
            if incident is None or not (
                incident.resolution_at_risk_at <= now < incident.resolution_due_at
            ):
                continue
            if not _claim(
                f"sla_at_risk:{incident.pk}:{_stamp(incident.resolution_due_at)}",
                Kind.SLA_AT_RISK,
                incident_id=incident.pk,
                now=now,
            ):
                continue
            left = incident.resolution_due_at - now
            message = _post_urgent_alert(
                incident,
                f"@channel Resolution deadline in {int(left.total_seconds() // 60)} "
                "min.\n",
            )
            escalation = None
            if not _has_breach_rule(incident.policy_id):
                escalation = escalate_one_tier_up(
                    incident,
                    now=now,
                    reason="Resolution deadline at risk",
                    urgency=Urgency.HIGH,
                )
            record_timeline_event(
                incident=incident,
                kind=TimelineEvent.Kind.SLA_AT_RISK_ALERTED,
                actor=None,
                at=now,
                details={
                    "due": incident.resolution_due_at.isoformat(),
                    "channel": _urgent_channel(),
                    "message": message.pk if message else None,
                    "escalation": escalation.pk if escalation else None,
                },
            )
            done += 1
    return done


def _record_breaches(now: dt.datetime) -> int:
    """A passed resolution deadline: on the timeline and alerted, once."""
    fired = Exists(
        EscalationFiring.objects.filter(
            kind=Kind.SLA_BREACHED,
            incident_id=OuterRef("pk"),
            fired_at__gte=OuterRef("resolution_due_at"),
        )
    )
    due = Incident.objects.filter(
        status__in=ESCALATABLE_STATUSES, resolution_due_at__lte=now
    ).exclude(fired)
    done = 0
    for pk in list(
        due.order_by("resolution_due_at", "id").values_list("pk", flat=True)[
            :SWEEP_BATCH
        ]
    ):
        with transaction.atomic():
            incident = _locked_incident(pk, ESCALATABLE_STATUSES)
            if incident is None or incident.resolution_due_at > now:
                continue
            if not _claim(
                f"sla_breached:{incident.pk}:{_stamp(incident.resolution_due_at)}",
                Kind.SLA_BREACHED,
                incident_id=incident.pk,
                now=now,
            ):
                continue
            message = _post_urgent_alert(
                incident, "@channel Resolution deadline breached.\n"
            )
            record_timeline_event(
                incident=incident,
                kind=TimelineEvent.Kind.SLA_BREACHED,
                actor=None,
                at=now,
                details={
                    "due": incident.resolution_due_at.isoformat(),
                    "channel": _urgent_channel(),
                    "message": message.pk if message else None,
                },
            )
            done += 1
    return done


# ---------------------------------------------------------------------------
# No response past the policy's delay (NORESP-P1..P4)


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


def _escalate_no_response(now: dt.datetime) -> int:
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
            incident = _locked_incident(loop.incident_id, ESCALATABLE_STATUSES)
            if incident is None:
                continue
            if not _claim(
                f"no_response:{loop.pk}:{_stamp(floor)}",
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


# ---------------------------------------------------------------------------
# Auto-close (AUTO-1..5, TRIG-000-3, TRIG-000-4)


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
    _claim(
        f"auto_close:{incident.pk}:{step}:{_stamp(anchor)}",
        Kind.AUTO_CLOSE,
        incident_id=incident.pk,
        now=now,
        slot=step,
    )
    _tell_customer(incident, template_key)
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


def _close_confirmed(now: dt.datetime) -> int:
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
            incident = _locked_incident(pk, [Incident.Status.RESOLVED])
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


def _close_silent_resolved(now: dt.datetime) -> tuple[int, int]:
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
                    incident = _locked_incident(pk, [Incident.Status.RESOLVED])
                    if incident is None or not _claim(
                        f"auto_close:{pk}:{CHECK_IN}:{_stamp(anchor)}",
                        Kind.AUTO_CLOSE,
                        incident_id=pk,
                        now=now,
                        slot=CHECK_IN,
                    ):
                        continue
                    _tell_customer(incident, "customer-checking-in")
                    check_ins += 1
                continue
            if now - checked_in_at < wait or (
                monitoring_ends_at is not None and monitoring_ends_at > now
            ):
                continue
            with transaction.atomic():
                incident = _locked_incident(pk, [Incident.Status.RESOLVED])
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


def _close_waiting_on_customer(now: dt.datetime) -> int:
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
                incident = _locked_incident(pk, [waiting])
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


def due_work(now: dt.datetime) -> dict[str, int]:
    """Run the automation rules once each; return how many fired."""
    check_ins, closed_resolved = _close_silent_resolved(now)
    return {
        "parties_silent_escalated": _escalate_silent_parties(now),
        "deadlines_at_risk_alerted": _alert_deadlines_at_risk(now),
        "deadlines_breached": _record_breaches(now),
        "no_response_escalated": _escalate_no_response(now),
        "closed_confirmed": _close_confirmed(now),
        "auto_close_check_ins": check_ins,
        "closed_resolved": closed_resolved,
        "closed_pending": _close_waiting_on_customer(now),
    }
