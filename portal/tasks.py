"""The per-minute sweep: the one place that knows every app's due work."""

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from comms import services as comms_services
from escalations import services as escalation_services
from incidents import services as incident_services
from integrations import services as integration_services
from statuspage.services import subscribers as statuspage_subscribers

logger = logging.getLogger(__name__)

SWEEP_TASK = "portal.tasks.run_due_work"


def run_due_work(now: dt.datetime | None = None, *, dry_run: bool = False) -> dict:
    """Run each app's due work in layer order (incidents, comms, escalations).

    ``dry_run`` does all of it in one transaction and rolls it back: the
    summary says what would fire, and nothing is written or enqueued (tasks
    go out only on commit, and the ORM broker's queue rolls back too).
    """
    now = now or timezone.now()
    if dry_run:
        with transaction.atomic():
            done = _each_app(now)
            transaction.set_rollback(True)
    else:
        # Each app commits item by item, so one failing item (or a worker
        # killed mid-sweep) never undoes what already fired.
        done = _each_app(now)
        comms_services.record_sweep(now=now, summary=done)
    logger.info(
        "due work at %s%s: %s", now.isoformat(), " (dry run)" if dry_run else "", done
    )
    return done


def _each_app(now: dt.datetime) -> dict:
    return {
        "incidents": incident_services.due_work(now),
        "comms": comms_services.due_work(now),
        "escalations": escalation_services.due_work(now),
        "statuspage": statuspage_subscribers.due_work(now),
        "integrations": integration_services.due_work(now),
    }
