"""Reads that escalation, credit and review pages and tasks share."""

from django.db.models import Count

from incidents.models import Incident, SurveyResponse

from .metrics import drill_condition

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
