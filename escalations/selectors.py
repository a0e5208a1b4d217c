"""Reads that escalation, credit and review pages and tasks share."""

import datetime as dt

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from incidents.models import Incident, SurveyResponse

from .metrics import drill_condition
from .models import ApprovalLimit, CreditRequest, CreditStatus

# --- Reviews (issue 15) -------------------------------------------------------


def review_items(period, *, limit: int = 25) -> dict:
    """What a review looks at for its period: each list capped, each count exact.

    004's weekly review: severe incidents, SLA breaches, negative feedback,
    patterns by category and customer.
    """
    incidents = period.incidents().select_related("customer", "category")
    severe = incidents.filter(priority__in=["P1", "P2"]).order_by("-created_at")
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
    return {
        "severe": (severe[:limit], severe.count()),
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
