"""Reads that the escalation, credit and review pages and the sweep share."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from comms import catalogue, rendering
from comms import selectors as comms_selectors
from comms.models import Audience, Channel, Stage
from incidents import lifecycle
from incidents import selectors as incident_selectors
from incidents.models import (
    AffectedCustomer,
    CommunicationPlan,
    Incident,
    IncidentChecklistItem,
    Segment,
    SurveyResponse,
    TimelineEvent,
)

from .metrics import drill_condition
from .models import (
    PATH_SITUATIONS,
    ApprovalLimit,
    CreditRequest,
    CreditStatus,
    Escalation,
    EscalationRule,
    Flag,
    PreEscalationCheck,
    Tier,
)

# ---------------------------------------------------------------------------
# Escalation routing


def policy_tiers(policy_id: int) -> list[Tier]:
    """Return a policy's active tiers in order, each marked whether people staff it."""
    return list(
        Tier.objects.filter(policy_id=policy_id, is_active=True).annotate(
            has_members=Exists(
                Tier.members.through.objects.filter(tier_id=OuterRef("pk"))
            ),
            has_member_groups=Exists(
                Tier.member_groups.through.objects.filter(tier_id=OuterRef("pk"))
            ),
        )
    )


def _staffed(tier: Tier) -> bool:
    # Tiers read without policy_tiers' marks count as staffed.
    return getattr(tier, "has_members", True) or getattr(
        tier, "has_member_groups", True
    )


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
    returned nor rejected; before any, since opening, the policy's first
    tier that people staff: an incident in the portal is worked by people,
    so the carrier's L0 help bot is not where it sits, and "one tier up"
    from it is L2, not the agents already on it.
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
    first = next((t for t in tiers if _staffed(t)), tiers[0] if tiers else None)
    return first, incident.created_at


def next_tier(tier: Tier | None, tiers: list[Tier]) -> Tier | None:
    """Return the tier "one tier up" from ``tier`` climbs to, or None at the top.

    The policy's ladder is data: the tier's own "next up", else the next
    tier by position.
    """
    if tier is None:
        return tiers[0] if tiers else None
    if tier.next_up_id is not None:
        return next((t for t in tiers if t.pk == tier.next_up_id), None)
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


# Flags the portal knows from the incident's record, and how to find the
# incidents that carry them.
IMPLIED_FLAGS = {"security_suspected": Q(security_response__isnull=False)}


def implied_flags(incident: Incident) -> set[str]:
    """Return the flags ``incident``'s own record sets."""
    return {
        flag
        for flag, carried in IMPLIED_FLAGS.items()
        if Incident.objects.filter(carried, pk=incident.pk).exists()
    }


def rule_facts(
    incident: Incident,
    *,
    now: dt.datetime | None = None,
    flags=(),
    refund_amount: Decimal | None = None,
    port_in_rejections: int = 0,
    tiers: list[Tier] | None = None,
) -> RuleFacts:
    """Gather what rules need to know about ``incident``.

    A flag the incident's own record implies counts as ticked: a security
    incident is one where a security incident is suspected.
    """
    now = now or timezone.now()
    tiers = policy_tiers(incident.policy_id) if tiers is None else tiers
    flags = {*flags, *implied_flags(incident)}
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
            # As escalation_tier_waiting_idx is built.
            status__in=("requested", "approved", "acknowledged"),
            reached_tier_at__isnull=False,
        )
        # Read per row, not joined: the planner would otherwise scan every
        # open incident to find the few hundred this tier waits on.
        .annotate(
            incident_status=Subquery(
                Incident.objects.filter(pk=OuterRef("incident_id"))
                .order_by()
                .values("status")
            )
        )
        .filter(incident_status__in=lifecycle.runs_while("escalations"))
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
        .defer(*incident_selectors.incident_details_not_in_rows())
        .order_by("created_at", "id")
    )


def rules_matched_on_request(escalations: list[Escalation]) -> dict[int, list[str]]:
    """Return, per escalation, the names of every rule that matched when it
    was asked for (its request row keeps them), in one query."""
    by_pk: dict[int, list[str]] = {}
    if not escalations:
        return by_pk
    wanted = {e.pk for e in escalations}
    for details in TimelineEvent.objects.filter(
        incident_id__in={e.incident_id for e in escalations},
        kind=TimelineEvent.Kind.ESCALATION_REQUESTED,
    ).values_list("details", flat=True):
        if details.get("escalation") in wanted:
            by_pk[details["escalation"]] = details.get("rules") or []
    return by_pk


def escalation_approvals_count() -> int:
    """Return how many escalations wait for a manager (the navigation badge)."""
    return Escalation.objects.filter(status="requested", needs_approval=True).count()


def escalations_waiting_for_tier(now: dt.datetime) -> QuerySet:
    """Return unacknowledged escalations in a queue (for reminders)."""
    return Escalation.objects.filter(
        status__in=["requested", "approved"],
        reached_tier_at__isnull=False,
        reached_tier_at__lte=now,
        incident__status__in=lifecycle.runs_while("escalation_reminders"),
    ).select_related("to_tier", "incident")


def not_fired(rule_id: int) -> Exists:
    """Return a condition: the rule has not fired for the incident yet."""
    from .models import EscalationFiring

    return ~Exists(
        EscalationFiring.objects.filter(rule_id=rule_id, incident=OuterRef("pk"))
    )


# --- Reviews ----------------------------------------------------------------


def review_items(period, *, limit: int = 25) -> dict:
    """What a review looks at for its period: each list capped, each count exact.

    The fleet escalation playbook's weekly review: P1/P2 escalations, SLA
    breaches, negative feedback, patterns by category and customer,
    knowledge-base gaps left on closure checklists; and the communication
    plans (from the communication plan template) whose review date has
    passed.
    """
    incidents = period.incidents().select_related("customer", "category")
    escalated = Exists(Escalation.objects.filter(incident=OuterRef("pk")))
    severe = incidents.filter(escalated, priority__in=["P1", "P2"]).order_by(
        "-created_at"
    )
    breached = incidents.filter(drill_condition("breached", period.now)).order_by(
        "-created_at"
    )
    unhappy = (
        SurveyResponse.objects.filter(
            answered_at__gte=period.start, answered_at__lt=period.end, score__lte=2
        )
        .select_related("incident", "customer")
        .order_by("-answered_at")
    )
    upset = incidents.filter(
        sentiment__in=[Incident.Sentiment.ANGRY, Incident.Sentiment.FRUSTRATED]
    ).order_by("-created_at")
    if period.policy is not None:
        unhappy = unhappy.filter(incident__policy=period.policy)
    by_category = (
        incidents.order_by()
        .values("category__name")
        .annotate(count=Count("id"))
        .order_by("-count", "category__name")[:10]
    )
    repeat_customers = (
        incidents.filter(customer__isnull=False)
        .order_by()
        .values("customer__name", "customer__account_id")
        .annotate(count=Count("id"))
        .filter(count__gt=1)
        .order_by("-count", "customer__name")[:10]
    )
    # Left on closure: closed incidents only, each once (an incident may
    # carry the item on more than one checklist).
    kb_items = (
        IncidentChecklistItem.objects.filter(
            checklist__incident__in=period.incidents().values("pk"),
            checklist__incident__status__in=Incident.CLOSED_STATUSES,
            text__icontains="knowledge base",
        )
        .exclude(state=IncidentChecklistItem.State.DONE)
        .select_related("checklist__incident")
        .order_by("-id")
    )
    kb_first = {}
    for item in kb_items[: limit * 4]:
        kb_first.setdefault(item.checklist.incident_id, item)
    kb_count = kb_items.values("checklist__incident").distinct().count()
    today = period.now.date()
    plans_due = (
        CommunicationPlan.objects.filter(status="approved")
        .filter(
            Q(review_cycle="monthly", effective_on__lte=today - dt.timedelta(days=30))
            | Q(
                review_cycle="quarterly",
                effective_on__lte=today - dt.timedelta(days=91),
            )
            | Q(review_cycle="annual", effective_on__lte=today - dt.timedelta(days=365))
        )
        .select_related("incident")
        .order_by("effective_on")
    )
    return {
        "severe": (severe[:limit], severe.count()),
        "kb_gaps": (list(kb_first.values())[:limit], kb_count),
        "plans_due": (plans_due[:limit], plans_due.count()),
        "breached": (breached[:limit], breached.count()),
        "unhappy": (unhappy[:limit], unhappy.count()),
        "upset": (upset[:limit], upset.count()),
        "by_category": list(by_category),
        "repeat_customers": list(repeat_customers),
    }


# Credits -------------------------------------------------------------------


def decidable_by(user) -> Exists:
    """Return a filter for credit requests one of ``user``'s limits covers.

    One subquery, so the queue, its navigation count and the service's
    authority check are the same single query and always agree. A limit in
    the policy's own currency compares the request's amount in that currency
    (converted when it was asked for); a limit in another currency compares
    amounts entered in that currency. No limit goes past the policy's cap.
    Own requests are not left out here: callers do that, with a message.
    """
    own_currency = F("policy__credit_policy__currency")
    in_policy_currency = (
        Q(currency=own_currency)
        & Q(policy__credit_policy__cap__gte=OuterRef("policy_amount"))
        & (Q(max_amount__isnull=True) | Q(max_amount__gte=OuterRef("policy_amount")))
    )
    in_own_currency = (
        ~Q(currency=own_currency)
        & Q(currency=OuterRef("currency"))
        & (Q(max_amount__isnull=True) | Q(max_amount__gte=OuterRef("amount")))
    )
    return Exists(
        ApprovalLimit.objects.filter(
            Q(kind="") | Q(kind=OuterRef("kind")),
            in_policy_currency | in_own_currency,
            group__user=user,
            policy_id=OuterRef("incident__policy_id"),
        )
    )


def _with_relations(credits: QuerySet) -> QuerySet:
    return credits.select_related(
        "incident", "customer", "requested_by", "decided_by", "applied_by"
    )


def credits_to_decide(user) -> QuerySet:
    """Return requests awaiting a decision that ``user`` may decide, oldest first."""
    return _with_relations(
        CreditRequest.objects.filter(decidable_by(user), status=CreditStatus.REQUESTED)
        .exclude(requested_by=user)
        .order_by("requested_at", "id")
    )


def credits_to_decide_count(user) -> int:
    """Return how many requests ``user`` may decide (the navigation badge)."""
    return (
        CreditRequest.objects.filter(decidable_by(user), status=CreditStatus.REQUESTED)
        .exclude(requested_by=user)
        .count()
    )


def credits_to_apply() -> QuerySet:
    """Return approved credits not yet applied in billing, oldest first."""
    return _with_relations(
        CreditRequest.objects.filter(status=CreditStatus.APPROVED).order_by(
            "decided_at", "id"
        )
    )


def incident_credits(incident) -> QuerySet:
    """Return an incident's credit requests, newest first."""
    return _with_relations(
        CreditRequest.objects.filter(incident=incident)
    ).prefetch_related("evidence_messages")


def credits_between(start: dt.datetime, end: dt.datetime, *, basis: str) -> QuerySet:
    """Return credits asked for (basis "requested") or applied (basis
    "applied") in [start, end), oldest first, for finance's export."""
    field = "applied_at" if basis == "applied" else "requested_at"
    return _with_relations(
        CreditRequest.objects.filter(**{f"{field}__gte": start, f"{field}__lt": end})
    ).order_by(field, "id")


def customer_notice_previews(incident: Incident, *, actor) -> dict[str, dict]:
    """Return, per path, the e-mail escalating will send the customer.

    What the Escalate page shows before anyone presses the button: the same
    template and context the escalation itself will use, signed by ``actor``.
    """
    recipients = comms_selectors.customer_addresses(incident)
    if not recipients:
        return {}
    context = catalogue.incident_context(
        incident,
        audience=Audience.CUSTOMER,
        sender_name=actor.get_full_name() or actor.get_username(),
    )
    # The tier each path goes to by default makes its promise of how soon
    # the customer hears from us.
    promise_minutes = dict(
        Tier.objects.filter(policy_id=incident.policy_id, is_active=True).values_list(
            "default_path", "customer_update_minutes"
        )
    )
    previews = {}
    for path, situation in PATH_SITUATIONS.items():
        template = comms_selectors.template_for(
            stage=Stage.ESCALATION,
            audience=Audience.CUSTOMER,
            incident=incident,
            channel=Channel.EMAIL,
            situation=situation,
        )
        if template is None:
            continue
        version = template.current_version
        promise = catalogue.customer_promise(incident, promise_minutes.get(path))[1]
        escalation = {**context["escalation"], "promise": promise}
        path_context = {**context, "escalation": escalation}
        try:
            rendered = rendering.render(version.subject, version.body, path_context)
        except rendering.RenderError:
            continue
        previews[path] = {
            "subject": rendered.subject,
            "body": rendered.body,
            "recipients": recipients,
        }
    return previews
