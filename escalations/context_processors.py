"""Values every page's navigation shows."""

from . import selectors


def escalation_approvals(request):
    """Offer the count of escalations waiting for a manager, queried only if shown.

    The navigation shows it to managers only and calls the callable there, so
    other people's pages never run the query.
    """
    return {"escalation_approvals_waiting": selectors.escalation_approvals_count}
