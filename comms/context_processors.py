"""Values every page's navigation shows."""

from portal.nav_counts import nav_count

from . import selectors


def approvals(request):
    """Offer the count of messages waiting for approval, queried only if shown.

    Templates call a callable when they use it, and the navigation shows the
    count to managers only, so other people's pages never run the query.
    """
    return {
        "approvals_waiting": lambda: nav_count(
            "approvals", selectors.approvals_waiting_count
        )
    }
