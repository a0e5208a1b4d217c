"""Filled in by the escalations issue; kept so every app has the same module set."""

# Credits and refunds (issue 12)
import datetime as dt

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from .models import ApprovalLimit, CreditRequest, CreditStatus

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
