"""Reads that the escalate form, the queues and the sweep share."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from incidents.models import AffectedCustomer, Incident, Segment

from .models import (
    Escalation,
    EscalationRule,
    Flag,
    PreEscalationCheck,
    Tier,
)

# ---------------------------------------------------------------------------
# Escalation routing (issue 11)


def policy_tiers(policy_id: int) -> list[Tier]:
    """Return a policy's active tiers in order."""
    return list(Tier.objects.filter(policy_id=policy_id, is_active=True))


def pre_escalation_checks(policy_id: int) -> QuerySet:
    """Return the checks the escalate form asks for, in order."""
    return PreEscalationCheck.objects.filter(policy_id=policy_id, is_active=True)


def _tier_member_filter(tier: Tier) -> Q:
    return Q(escalation_tiers=tier) | Q(groups__escalation_tiers=tier)


def is_tier_member(user: AbstractBaseUser, tier: Tier) -> bool:
    """Return whether ``user`` belongs to the tier, in person or by group."""
    if not user.is_authenticated or not user.is_active:
        return False
    from django.contrib.auth import get_user_model

    return (
        get_user_model()
        .objects.filter(_tier_member_filter(tier), pk=user.pk, is_active=True)
        .exists()
    )


def tier_has_members(tier: Tier) -> bool:
    """Return whether anyone active can acknowledge escalations to ``tier``."""
    from django.contrib.auth import get_user_model

    return (
        get_user_model().objects.filter(_tier_member_filter(tier), is_active=True)
    ).exists()


def tiers_of(user: AbstractBaseUser) -> QuerySet:
    """Return the active tiers ``user`` belongs to, in person or by group."""
    return (
        Tier.objects.filter(
            Q(members=user) | Q(member_groups__user=user), is_active=True
        )
        .select_related("policy")
        .distinct()
        .order_by("policy__name", "position")
    )


def current_tier(
    incident: Incident, tiers: list[Tier]
) -> tuple[Tier | None, dt.datetime]:
    """Return the tier the incident sits at and since when.

    The tier of its latest escalation that reached a queue and was neither
    returned nor rejected; before any, the policy's first tier since opening.
    """
    latest = (
        Escalation.objects.filter(
            incident=incident,
            reached_tier_at__isnull=False,
            status__in=["requested", "approved", "acknowledged", "resolved"],
        )
        .order_by("-reached_tier_at", "-id")
        .values_list("to_tier_id", "reached_tier_at")
        .first()
    )
    by_id = {t.pk: t for t in tiers}
    if latest and latest[0] in by_id:
        return by_id[latest[0]], latest[1]
    return (tiers[0] if tiers else None), incident.created_at


def next_tier(tier: Tier | None, tiers: list[Tier]) -> Tier | None:
    """Return the tier after ``tier`` (by position), or None at the top."""
    if tier is None:
        return tiers[0] if tiers else None
    later = [t for t in tiers if (t.position, t.pk) > (tier.position, tier.pk)]
    return later[0] if later else None


@dataclass
class RuleFacts:
    """What rules are evaluated against, for one incident at one moment."""

    incident: Incident
    now: dt.datetime
    tiers: list[Tier]
    current_tier: Tier | None
    at_tier_since: dt.datetime
    customers_affected: int
    flags: set[str] = field(default_factory=set)
    refund_amount: Decimal | None = None
    port_in_rejections: int = 0


@dataclass
class RuleMatch:
    rule: EscalationRule
    reasons: list[str]
    tiers: list[Tier]


def customers_affected(incident: Incident) -> int:
    """Return how many customers the incident hits (at least one)."""
    if not incident.is_systemic:
        return 1
    count = AffectedCustomer.objects.filter(incident=incident).count()
    return max(count + (1 if incident.customer_id else 0), 1)


def rule_facts(
    incident: Incident,
    *,
    now: dt.datetime | None = None,
    flags=(),
    refund_amount: Decimal | None = None,
    port_in_rejections: int = 0,
    tiers: list[Tier] | None = None,
) -> RuleFacts:
    """Gather what rules need to know about ``incident``."""
    now = now or timezone.now()
    tiers = policy_tiers(incident.policy_id) if tiers is None else tiers
    tier, since = current_tier(incident, tiers)
    return RuleFacts(
        incident=incident,
        now=now,
        tiers=tiers,
        current_tier=tier,
        at_tier_since=since,
        customers_affected=customers_affected(incident),
        flags=set(flags),
        refund_amount=refund_amount,
        port_in_rejections=port_in_rejections or 0,
    )


def _hours(minutes: int) -> str:
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def rule_reasons(rule: EscalationRule, facts: RuleFacts) -> list[str] | None:
    """Return why ``rule`` holds for ``facts`` (one line per condition), or None."""
    incident, reasons = facts.incident, []
    if rule.priority:
        if incident.priority != rule.priority:
            return None
        reasons.append(f"priority is {incident.priority}")
    if rule.category_id:
        if incident.category_id != rule.category_id:
            return None
        reasons.append(f"category is {rule.category}")
    if rule.customer_flag:
        customer = incident.customer
        is_vip = bool(customer and customer.is_vip)
        is_enterprise = bool(customer and customer.segment == Segment.ENTERPRISE)
        held = {
            "vip": is_vip,
            "enterprise": is_enterprise,
            "vip_or_enterprise": is_vip or is_enterprise,
        }[rule.customer_flag]
        if not held:
            return None
        reasons.append("the customer is " + ("VIP" if is_vip else "enterprise"))
    if rule.flag:
        if rule.flag not in facts.flags:
            return None
        reasons.append(Flag(rule.flag).label.lower())
    if rule.at_tier_id:
        if facts.current_tier is None or facts.current_tier.pk != rule.at_tier_id:
            return None
        reasons.append(f"it sits at {facts.current_tier.name}")
    if rule.open_over_minutes is not None:
        since = facts.at_tier_since if rule.at_tier_id else incident.created_at
        if facts.now - since <= dt.timedelta(minutes=rule.open_over_minutes):
            return None
        where = "at its tier" if rule.at_tier_id else "open"
        reasons.append(f"{where} more than {_hours(rule.open_over_minutes)}")
    if rule.min_customers_affected is not None:
        if facts.customers_affected < rule.min_customers_affected:
            return None
        reasons.append(f"{facts.customers_affected} customers affected")
    if rule.refund_over is not None:
        if facts.refund_amount is None or facts.refund_amount <= rule.refund_over:
            return None
        reasons.append(f"refund of {facts.refund_amount} is over {rule.refund_over}")
    if rule.min_port_in_rejections is not None:
        if facts.port_in_rejections < rule.min_port_in_rejections:
            return None
        reasons.append(f"port-in rejected {facts.port_in_rejections} times")
    if rule.sla_breach_within_minutes is not None:
        due = incident.resolution_due_at
        if not (
            incident.resolved_at is None
            and facts.now
            < due
            <= facts.now + dt.timedelta(minutes=rule.sla_breach_within_minutes)
        ):
            return None
        reasons.append(
            f"resolution deadline within {_hours(rule.sla_breach_within_minutes)}"
        )
    return reasons or None


def rule_tiers(rule: EscalationRule, facts: RuleFacts) -> list[Tier]:
    """Return the tiers a rule escalates to, the next one resolved now."""
    tiers = [t for t in rule.target_tiers.all() if t.is_active]
    if rule.targets_next_tier:
        upper = next_tier(facts.current_tier, facts.tiers)
        if upper is not None and upper not in tiers:
            tiers.insert(0, upper)
    return tiers


def policy_rules(policy_id: int) -> QuerySet:
    """Return a policy's active rules with their target tiers."""
    return (
        EscalationRule.objects.filter(policy_id=policy_id, is_active=True)
        .select_related("category")
        .prefetch_related("target_tiers")
    )


def matching_rules(
    *,
    incident: Incident,
    flags=(),
    refund_amount: Decimal | None = None,
    port_in_rejections: int = 0,
    now: dt.datetime | None = None,
    facts: RuleFacts | None = None,
) -> list[RuleMatch]:
    """Return the rules that hold for the incident now, with why and where to."""
    facts = facts or rule_facts(
        incident,
        now=now,
        flags=flags,
        refund_amount=refund_amount,
        port_in_rejections=port_in_rejections,
    )
    matches = []
    for rule in policy_rules(incident.policy_id):
        reasons = rule_reasons(rule, facts)
        if reasons:
            matches.append(RuleMatch(rule, reasons, rule_tiers(rule, facts)))
    return matches


def incident_escalations(incident: Incident) -> QuerySet:
    """Return an incident's escalations, newest first, ready to list."""
    return Escalation.objects.filter(incident=incident).select_related(
        "to_tier",
        "from_tier",
        "rule",
        "requested_by",
        "decided_by",
        "acknowledged_by",
        "closed_by",
        "bug_report",
    )


def tier_queue(*, tier: Tier, urgency: str = "") -> QuerySet:
    """Return the escalations waiting at ``tier``, oldest first."""
    queue = (
        Escalation.objects.filter(
            to_tier=tier,
            status__in=["requested", "approved", "acknowledged"],
            reached_tier_at__isnull=False,
        )
        .select_related(
            "incident", "incident__customer", "requested_by", "acknowledged_by"
        )
        .order_by("reached_tier_at", "id")
    )
    if urgency:
        queue = queue.filter(urgency=urgency)
    return queue


def escalation_approvals() -> QuerySet:
    """Return escalations waiting for a manager, oldest first."""
    return (
        Escalation.objects.filter(status="requested", needs_approval=True)
        .select_related("incident", "to_tier", "requested_by", "rule")
        .order_by("created_at", "id")
    )


def escalation_approvals_count() -> int:
    """Return how many escalations wait for a manager (the navigation badge)."""
    return Escalation.objects.filter(status="requested", needs_approval=True).count()


def escalations_waiting_for_tier(now: dt.datetime) -> QuerySet:
    """Return unacknowledged escalations in a queue (for reminders)."""
    return Escalation.objects.filter(
        status__in=["requested", "approved"],
        reached_tier_at__isnull=False,
        reached_tier_at__lte=now,
    ).select_related("to_tier", "incident")


def not_fired(rule_id: int) -> Exists:
    """Return a condition: the rule has not fired for the incident yet."""
    from .models import EscalationFiring

    return ~Exists(
        EscalationFiring.objects.filter(rule_id=rule_id, incident=OuterRef("pk"))
    )
