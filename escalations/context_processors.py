"""Values every page's navigation shows."""

from portal.nav_counts import nav_count

from . import selectors


def credit_decisions(request):
    """Offer the count of credits the user may decide, queried only if shown.

    Templates call a callable when they use it, and the navigation shows the
    count only to people who decide credits.
    """
    return {
        "credits_to_decide": lambda: nav_count(
            "credits",
            lambda: selectors.credits_to_decide_count(request.user),
            user=request.user,
        )
    }


def escalation_approvals(request):
    """Offer the count of escalations waiting for a manager, queried only if shown.

    The navigation shows it to managers only and calls the callable there, so
    other people's pages never run the query.
    """
    return {
        "escalation_approvals_waiting": lambda: nav_count(
            "escalation_approvals", selectors.escalation_approvals_count
        )
    }
