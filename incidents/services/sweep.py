"""The incidents app's share of the per-minute sweep: stuck tags, checklist
ticks from new evidence, and the archive."""

import datetime as dt

from django.db import transaction

from .. import (
    selectors,
)
from ..models import (
    Incident,
    Policy,
    TimelineEvent,
)
from .closure import sync_checklists
from .records import lock_incident, record_timeline_event
from .tags import SLO_AT_RISK_AFTER, custom_tags, merged_tags


def due_work(now: dt.datetime) -> dict[str, int]:
    """Tag stuck incidents, tick checklists from evidence, archive old ones.

    Stuck: open past 48 hours (the carrier escalation guide's slo_at_risk
    tag). Checklists: see _refresh_due_checklists. Archive: see
    _archive_closed.
    """
    tagged = 0
    for incident in selectors.incidents_newly_stuck(now, stuck_for=SLO_AT_RISK_AFTER):
        with transaction.atomic():
            locked = lock_incident(incident, None)
            tags = merged_tags(locked, custom_tags(locked), now=now)
            if tags == locked.tags:
                continue
            before, locked.tags = locked.tags, tags
            locked.save(update_fields=["tags"])
            record_timeline_event(
                incident=locked,
                kind=TimelineEvent.Kind.EDITED,
                actor=None,
                at=now,
                details={"changes": {"tags": [before, tags]}},
            )
            tagged += 1
    return {
        "slo_at_risk": tagged,
        "checklists_refreshed": _refresh_due_checklists(now),
        "archived": _archive_closed(now),
    }


def _archive_closed(now: dt.datetime, *, batch: int = 500) -> int:
    """Archive closed incidents older than their policy's archive delay."""
    archived = 0
    for policy_id, days in Policy.objects.values_list("id", "archive_after_days"):
        with transaction.atomic():
            due = list(
                selectors.incidents_due_for_archive(
                    now - dt.timedelta(days=days), policy_id=policy_id
                )
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:batch]
            )
            if not due:
                continue
            Incident.objects.filter(pk__in=due, archived_at__isnull=True).update(
                archived_at=now
            )
            TimelineEvent.objects.bulk_create(
                TimelineEvent(
                    incident_id=pk,
                    kind=TimelineEvent.Kind.ARCHIVED,
                    actor=None,
                    created_at=now,
                    details={"archive_after_days": days},
                )
                for pk in due
            )
            archived += len(due)
    return archived


def _refresh_due_checklists(now: dt.datetime, *, batch: int = 200) -> int:
    """Tick time-based evidence and attach checklists that events called for."""
    refreshed = 0
    for pk in selectors.incidents_with_checklist_work(limit=batch):
        with transaction.atomic():
            locked = lock_incident(Incident(pk=pk), None)
            if locked.status in Incident.CLOSED_STATUSES:
                continue
            sync_checklists(locked, now=now)
            refreshed += 1
    return refreshed
