"""Filled in by the escalations issue; kept so every app has the same module set."""

# Credits and refunds (issue 12)
import datetime as dt

from django.db.models import Q, QuerySet

from .models import ApprovalLimit, CreditRequest, CreditStatus

# Credits -------------------------------------------------------------------


def _limits_of(user) -> list[ApprovalLimit]:
    return list(
        ApprovalLimit.objects.filter(group__in=user.groups.all()).select_related(
            "policy__credit_policy"
        )
    )


def decidable_by(user) -> Q:
    """Return a filter for credit requests ``user``'s limits cover.

    Limits in the policy's own currency compare the request's amount in that
    currency (converted when it was asked for); a limit in another currency
    compares amounts entered in that currency. Nobody's limit goes past the
    policy's cap. Own requests are not left out here: the callers do that,
    with a message of its own.
    """
    covered = Q(pk__in=[])
    for limit in _limits_of(user):
        rules = getattr(limit.policy, "credit_policy", None)
        if rules is None:
            continue
        condition = Q(incident__policy_id=limit.policy_id)
        if limit.kind:
            condition &= Q(kind=limit.kind)
        if limit.currency == rules.currency:
            ceiling = rules.cap
            if limit.max_amount is not None:
                ceiling = min(ceiling, limit.max_amount)
            condition &= Q(policy_amount__isnull=False, policy_amount__lte=ceiling)
        else:
            condition &= Q(currency=limit.currency)
            if limit.max_amount is not None:
                condition &= Q(amount__lte=limit.max_amount)
        covered |= condition
    return covered


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


def credits_requested_between(start: dt.datetime, end: dt.datetime) -> QuerySet:
    """Return credits asked for in [start, end), for finance's export."""
    return _with_relations(
        CreditRequest.objects.filter(requested_at__gte=start, requested_at__lt=end)
    ).order_by("requested_at", "id")
