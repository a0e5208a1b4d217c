"""Every major incident gets its communication plan without anyone asking.

The plan's sections come from the communication plan template.

The plan itself lives in incidents; what it starts from is gathered by
``comms.plans``, which reads both apps, so the sweep's step is here.
"""

import datetime as dt
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from incidents import services as incident_services
from incidents.models import Incident

from .. import plans

logger = logging.getLogger(__name__)

# Plans one sweep starts at most; after an import of old incidents the rest
# follow a minute later, so one sweep stays short.
PLANS_PER_SWEEP = 50


def start_missing_plans(now: dt.datetime) -> int:
    """Start the plan of each running P1, P2 or systemic incident that has none."""
    waiting = (
        Incident.objects.filter(
            status__in=Incident.OPEN_STATUSES, communication_plan__isnull=True
        )
        .filter(
            Q(priority__in=incident_services.POSTMORTEM_PRIORITIES)
            | Q(is_systemic=True)
        )
        .select_related("customer", "owner", "category")
        .order_by("created_at", "pk")[:PLANS_PER_SWEEP]
    )
    started = 0
    for incident in waiting:
        try:
            with transaction.atomic():
                incident_services.start_communication_plan(
                    incident=incident,
                    actor=None,
                    prefill=plans.plan_prefill(incident, now=now),
                )
        except ValidationError as exc:
            # Started by a person a moment ago, or no longer major.
            logger.info("No plan started for %s: %s", incident.reference, exc)
            continue
        started += 1
    return started


def due_work(now: dt.datetime) -> dict[str, int]:
    return {"plans_started": start_missing_plans(now)}
