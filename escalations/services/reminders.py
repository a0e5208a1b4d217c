"""The escalations' share of the sweep: automatic rules, reminders to the tier,
check-ins with the customer and notices to management."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q

from comms import selectors as comms_selectors
from comms.models import Audience, Channel, Message
from incidents import lifecycle
from incidents.models import Incident, PolicyTarget, TimelineEvent
from incidents.services import record_timeline_event

from .. import selectors
from ..models import (
    Escalation,
    EscalationFiring,
    EscalationRule,
    Path,
    Urgency,
)
from .notices import (
    CUSTOMER_NOTICE_GAP,
    ESCALATABLE_STATUSES,
    SWEEP_BATCH,
    alert_tier,
    claim_firing,
    customer_told_since,
    escalate_by_rule,
    escalation_event,
    pages_at_once,
    raise_urgent_alarm,
    reach_tier,
    send_notice,
    skip_locked,
    tell_customer,
)


def _automatic_candidates(rule: EscalationRule, now: dt.datetime):
    incidents = Incident.objects.filter(
        policy_id=rule.policy_id, status__in=ESCALATABLE_STATUSES
    )
    if rule.flag:
        incidents = incidents.filter(selectors.IMPLIED_FLAGS[rule.flag])
    if rule.priority:
        incidents = incidents.filter(priority=rule.priority)
    if rule.category_id:
        incidents = incidents.filter(category_id=rule.category_id)
    if rule.customer_flag == "vip":
        incidents = incidents.filter(customer__is_vip=True)
    elif rule.customer_flag == "enterprise":
        incidents = incidents.filter(customer__segment="enterprise")
    elif rule.customer_flag == "vip_or_enterprise":
        incidents = incidents.filter(
            Q(customer__is_vip=True) | Q(customer__segment="enterprise")
        )
    if rule.open_over_minutes is not None:
        incidents = incidents.filter(
            created_at__lt=now - dt.timedelta(minutes=rule.open_over_minutes)
        )
    if rule.min_customers_affected and rule.min_customers_affected > 1:
        incidents = incidents.filter(is_systemic=True)
    if rule.sla_breach_within_minutes is not None:
        incidents = incidents.filter(
            resolution_due_at__gt=now,
            resolution_due_at__lte=now
            + dt.timedelta(minutes=rule.sla_breach_within_minutes),
        )
    return (
        incidents.filter(selectors.not_fired(rule.pk))
        .select_related("customer", "category", "policy")
        .order_by("created_at", "id")[:SWEEP_BATCH]
    )


def _fire_rule(rule: EscalationRule, incident: Incident, now: dt.datetime) -> int:
    """Escalate ``incident`` as ``rule`` says, once; return escalations made."""
    with transaction.atomic():
        # The candidates were listed a moment ago; act on the status now.
        if (
            not Incident.objects.select_for_update(of=("self",))
            .filter(pk=incident.pk, status__in=ESCALATABLE_STATUSES)
            .exists()
        ):
            return 0
        facts = selectors.rule_facts(incident, now=now)
        reasons = selectors.rule_reasons(rule, facts)
        if not reasons:
            return 0
        if not claim_firing(
            f"rule:{rule.pk}:incident:{incident.pk}",
            EscalationFiring.Kind.RULE,
            incident_id=incident.pk,
            now=now,
            rule=rule,
        ):
            return 0
        made, reached = 0, []
        # A tier already working on the incident (another rule, or an agent)
        # is not handed it a second time.
        busy = set(
            Escalation.objects.filter(
                incident=incident, status__in=Escalation.OPEN_STATUSES
            ).values_list("to_tier_id", flat=True)
        )
        for tier in selectors.rule_tiers(rule, facts):
            if tier.pk in busy:
                continue
            escalation = escalate_by_rule(
                incident,
                to_tier=tier,
                from_tier=facts.current_tier,
                rule=rule,
                urgency=rule.urgency,
                summary=f"{rule.name}: " + "; ".join(reasons) + ".",
                why=f"Automatic rule “{rule.name}”"
                + (f" ({rule.source})." if rule.source else "."),
                now=now,
            )
            escalation_event(
                escalation,
                TimelineEvent.Kind.ESCALATION_TRIGGERED,
                None,
                at=now,
                rule=rule.name,
                reasons=reasons,
                urgency=rule.urgency,
                needs_approval=rule.needs_approval,
                version=incident.version,
            )
            if not rule.needs_approval:
                reach_tier(escalation, None, now)
                reached.append(escalation)
            made += 1
        if reached:
            # As when an agent escalates: the customer hears of it once (not
            # again for a second rule in the same day), and a critical rule
            # (the fleet escalation playbook's Sev 1) raises the urgent alarm.
            if not customer_told_since(incident, now - CUSTOMER_NOTICE_GAP):
                tell_customer(reached[0], None)
            if rule.urgency == Urgency.CRITICAL:
                alarmed = [e for e in reached if e.path != Path.URGENT]
                for index, escalation in enumerate(alarmed):
                    raise_urgent_alarm(
                        escalation,
                        None,
                        now,
                        post=index == 0,
                        page=not pages_at_once(escalation),
                    )
        return made


def _fire_automatic_rules(now: dt.datetime) -> int:
    made = 0
    # Rules on the clock, and rules whose flag the incident's record sets
    # (flagged a security incident: the security rule fires by itself).
    rules = EscalationRule.objects.filter(is_active=True).filter(
        Q(is_time_based=True, flag="") | Q(flag__in=selectors.IMPLIED_FLAGS),
        refund_over__isnull=True,
        min_port_in_rejections__isnull=True,
    )
    for rule in rules.prefetch_related("target_tiers"):
        for incident in _automatic_candidates(rule, now):
            made += _fire_rule(rule, incident, now)
    return made


def _remind(escalation: Escalation, now: dt.datetime) -> int:
    """Remind the tier once per interval while the escalation waits."""
    interval = escalation.to_tier.reminder_minutes
    if not interval:
        return 0
    slot = int((now - escalation.reached_tier_at) / dt.timedelta(minutes=interval))
    if slot < 1:
        return 0
    if not claim_firing(
        f"reminder:{escalation.pk}:{slot}",
        EscalationFiring.Kind.REMINDER,
        incident_id=escalation.incident_id,
        now=now,
        escalation=escalation,
        slot=slot,
    ):
        return 0
    alert_tier(
        escalation,
        None,
        prefix=f"Reminder {slot}: still waiting for {escalation.to_tier.name} to "
        "acknowledge.\n",
    )
    escalation_event(
        escalation, TimelineEvent.Kind.ESCALATION_REMINDED, None, at=now, slot=slot
    )
    return 1


# A check-in this soon after the customer heard of the escalation says nothing.
CHECK_IN_QUIET = dt.timedelta(hours=4)


def _check_in(escalation: Escalation, now: dt.datetime) -> int:
    """Past the tier's target: tell the customer we chased, and ping the team."""
    if escalation.ack_due_at is None or escalation.ack_due_at > now:
        return 0
    if not claim_firing(
        f"check_in:{escalation.pk}",
        EscalationFiring.Kind.CHECK_IN,
        incident_id=escalation.incident_id,
        now=now,
        escalation=escalation,
    ):
        return 0
    # However many tiers are late, the customer hears "we chased them" once a
    # day at most, and not within hours of hearing of the escalation itself.
    message = None
    incident = escalation.incident
    checked_in_lately = Message.objects.filter(
        incident=incident,
        audience=Audience.CUSTOMER,
        situation="escalation_sla_missed",
        created_at__gte=now - CUSTOMER_NOTICE_GAP,
    ).exists()
    if not checked_in_lately and not customer_told_since(
        incident, now - CHECK_IN_QUIET
    ):
        message = send_notice(
            escalation.incident,
            audience=Audience.CUSTOMER,
            channel=Channel.EMAIL,
            situation="escalation_sla_missed",
            recipients=comms_selectors.customer_addresses(escalation.incident),
            actor=None,
        )
    alert_tier(
        escalation,
        None,
        prefix=f"{escalation.to_tier.name} missed its response target on this "
        "escalation; please pick it up.\n",
    )
    escalation_event(
        escalation,
        TimelineEvent.Kind.ESCALATION_REMINDED,
        None,
        at=now,
        check_in=True,
        message=message.pk if message else None,
    )
    return 1


def _work_waiting_escalations(now: dt.datetime) -> tuple[int, int]:
    reminders = check_ins = 0
    ids = list(
        selectors.escalations_waiting_for_tier(now).values_list("pk", flat=True)[
            : SWEEP_BATCH * 5
        ]
    )
    for pk in ids:
        with transaction.atomic():
            escalation = (
                Escalation.objects.select_for_update(of=("self",), **skip_locked())
                .select_related("to_tier", "incident", "rule")
                .filter(
                    pk=pk,
                    status__in=["requested", "approved"],
                    incident__status__in=lifecycle.runs_while("escalation_reminders"),
                )
                .first()
            )
            if escalation is None:
                continue
            reminders += _remind(escalation, now)
            check_ins += _check_in(escalation, now)
    return reminders, check_ins


def _staff_addresses(group: str) -> list[str]:
    return sorted(
        set(
            get_user_model()
            .objects.filter(groups__name=group, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )


def _notify_management(now: dt.datetime) -> int:
    """Managers, then executives, hear of incidents open past the delays.

    From the agency resolution protocol.
    """
    done = 0
    targets = PolicyTarget.objects.filter(manager_notify_minutes__isnull=False) | (
        PolicyTarget.objects.filter(notifies_executives=True)
    )
    for target in targets.select_related("policy"):
        levels = []
        if target.manager_notify_minutes is not None:
            levels.append(
                ("manager", target.manager_notify_minutes, "Manager", "to_manager")
            )
        if target.notifies_executives:
            levels.append(
                (
                    "executive",
                    target.manager_notify_minutes or 0,
                    "VP",
                    "to_executive",
                )
            )
        for level, minutes, group, situation in levels:
            incidents = Incident.objects.filter(
                policy_id=target.policy_id,
                priority=target.priority,
                status__in=ESCALATABLE_STATUSES,
                created_at__lte=now - dt.timedelta(minutes=minutes),
            ).exclude(escalation_firings__kind=level)
            for incident in incidents.select_related("customer", "category")[
                :SWEEP_BATCH
            ]:
                with transaction.atomic():
                    if not Incident.objects.select_for_update(of=("self",)).filter(
                        pk=incident.pk, status__in=ESCALATABLE_STATUSES
                    ).exists() or not claim_firing(
                        f"{level}:{incident.pk}",
                        level,
                        incident_id=incident.pk,
                        now=now,
                    ):
                        continue
                    recipients = _staff_addresses(group)
                    message = send_notice(
                        incident,
                        audience=Audience.INTERNAL,
                        channel=Channel.EMAIL,
                        situation=situation,
                        recipients=recipients,
                        actor=None,
                    )
                    record_timeline_event(
                        incident=incident,
                        kind=TimelineEvent.Kind.MANAGEMENT_NOTIFIED,
                        actor=None,
                        at=now,
                        details={
                            "level": level,
                            "recipients": recipients,
                            "message": message.pk if message else None,
                        },
                    )
                    done += 1
    return done


def due_work(now: dt.datetime) -> dict[str, int]:
    """Fire automatic rules, reminders, check-ins and management notices once."""
    escalated = _fire_automatic_rules(now)
    reminders, check_ins = _work_waiting_escalations(now)
    return {
        "escalations_triggered": escalated,
        "escalation_reminders": reminders,
        "escalation_check_ins": check_ins,
        "management_notified": _notify_management(now),
    }
