"""The per-minute sweep: the one place that knows every app's due work."""

import logging

from django.utils import timezone

from comms import services as comms_services
from escalations import services as escalation_services
from incidents import services as incident_services

logger = logging.getLogger(__name__)


def run_due_work() -> dict:
    """Run each app's due work in layer order (incidents, comms, escalations)."""
    now = timezone.now()
    done = {
        "incidents": incident_services.due_work(now),
        "comms": comms_services.due_work(now),
        "escalations": escalation_services.due_work(now),
    }
    logger.info("due work at %s: %s", now.isoformat(), done)
    return done
