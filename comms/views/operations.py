"""Operations: what the sweep did and will do."""

import datetime as dt

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.shortcuts import render
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.http import require_GET

from .. import selectors

OPERATIONS_ROWS = 50


@require_GET
@permission_required("comms.view_operations", raise_exception=True)
def operations(request):
    """What the cluster will fire, what it missed, and whether it is alive."""
    now = timezone.now()
    upcoming = selectors.follow_ups_due_between(now, now + dt.timedelta(hours=24))
    overdue = selectors.overdue_follow_ups(now)
    heartbeat = selectors.last_sweep()
    schedules = selectors.sweep_schedules()
    stale_after = dt.timedelta(seconds=settings.SWEEP_STALE_SECONDS)
    warnings = []
    if heartbeat is None:
        warnings.append(
            "No sweep has ever run: start the cluster (manage.py qcluster)."
        )
    elif heartbeat.last_sweep_at < now - stale_after:
        warnings.append(
            f"The last sweep ran {timesince(heartbeat.last_sweep_at, now)} ago: the "
            "cluster looks dead. Follow-ups and deliveries wait until it runs."
        )
    if not schedules:
        warnings.append("No schedule runs the sweep; run manage.py migrate.")
    elif len(schedules) > 1:
        warnings.append(
            f"{len(schedules)} schedules run the sweep; delete all but one in the "
            "admin (slots still fire once, but the cluster does double work)."
        )
    return render(
        request,
        "comms/operations.html",
        {
            "now": now,
            "upcoming": upcoming[:OPERATIONS_ROWS],
            "upcoming_count": upcoming.order_by()[:1001].count(),
            "overdue": overdue[:OPERATIONS_ROWS],
            "overdue_count": overdue.order_by()[:1001].count(),
            "failed_deliveries": selectors.failed_deliveries()[:20],
            "failed_follow_ups": selectors.failed_follow_ups()[:20],
            "unmatched_mail": selectors.unmatched_mail_count(),
            "signals": selectors.signal_queue_counts(),
            "heartbeat": heartbeat,
            "schedules": schedules,
            "warnings": warnings,
        },
    )
