"""The per-minute sweep: the one place that knows every app's due work."""

import logging

from django.utils import timezone

from comms import services as comms_services

logger = logging.getLogger(__name__)


def run_due_work() -> dict:
    """Run each app's due work in layer order (incidents, comms, escalations)."""
    now = timezone.now()
    done = {"comms": comms_services.due_work(now)}
    logger.info("due work at %s: %s", now.isoformat(), done)
    return done
