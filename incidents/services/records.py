"""What every incident service shares: the timeline entry it writes, the row
lock with the two-editors guard, and errors attached to a form field."""

import contextlib
import datetime as dt
from collections.abc import Iterator
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.bulk import insert_rows

from .. import (
    timeline,
)
from ..models import (
    Incident,
    TimelineEvent,
)
from .tags import custom_tags, merged_tags

User = AbstractBaseUser


def field_error(field: str, message: str, *, code: str) -> ValidationError:
    """Return an error that forms attach to ``field``, keeping its code."""
    return ValidationError({field: ValidationError(message, code=code)})


def record_timeline_event(
    *,
    incident: Incident,
    kind: str,
    actor: User | None,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> TimelineEvent:
    """Append one entry to the incident's history (called by other services).

    Inside ``timeline_written_together()`` the entry is returned unsaved and
    written with the block's others when it ends.
    """
    event = TimelineEvent(
        incident=incident,
        kind=kind,
        actor=actor,
        created_at=at or timezone.now(),
        details=details or {},
    )
    held = _held_timeline_events.get()
    if held is None:
        event.save(force_insert=True)
    else:
        held.append(event)
    return event


_held_timeline_events: ContextVar[list[TimelineEvent] | None] = ContextVar(
    "held_timeline_events", default=None
)


@contextlib.contextmanager
def timeline_written_together() -> Iterator[None]:
    """Write the timeline entries recorded in the block in one INSERT at its end.

    For the sweep, whose every follow-up adds an entry: one statement per
    chunk instead of one round trip each. Run it inside the transaction
    that must hold the entries; if the block raises, nothing is written.
    Nothing in the block may read back an entry it recorded.
    """
    held: list[TimelineEvent] = []
    token = _held_timeline_events.set(held)
    try:
        yield
    finally:
        _held_timeline_events.reset(token)
    insert_rows(TimelineEvent, held)


def lock_incident(incident: Incident, expected_version: int | None) -> Incident:
    locked = (
        Incident.objects.select_for_update(of=("self",))
        .select_related("policy__calendar", "customer", "category", "signal")
        .get(pk=incident.pk)
    )
    if expected_version is not None and locked.version != expected_version:
        raise ValidationError(
            stale_edit_message(locked, expected_version), code="stale"
        )
    if locked.archived_at is not None:
        raise ValidationError(
            f"{locked.reference} is archived and read-only: it closed more than "
            "its policy's archive delay ago. Open a new incident if the problem "
            "is back.",
            code="archived",
        )
    return locked


def stale_edit_message(incident: Incident, seen_version: int) -> str:
    """Describe what others changed since ``seen_version``."""
    events = (
        TimelineEvent.objects.filter(
            incident=incident, details__version__gt=seen_version
        )
        .select_related("actor")
        .order_by("created_at", "id")
    )
    changes = []
    for event in events:
        who = (
            (event.actor.get_full_name() or event.actor.get_username())
            if event.actor
            else "the system"
        )
        labels = [
            timeline.change_label(key) for key in event.details.get("changes", {})
        ]
        what = ", ".join(labels) if labels else event.get_kind_display().lower()
        changes.append(f"{who} changed {what}")
    summary = "; ".join(changes) or "someone else changed it"
    return (
        f"{incident.reference} changed while you were editing ({summary}). "
        "Nothing was saved: review the current values and save again."
    )


def shown_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def save_status(
    incident: Incident,
    *,
    kind: str,
    actor: User | None,
    now: dt.datetime,
    from_status: str,
    field_changes: dict[str, list[Any]] | None = None,
    **details: Any,
) -> None:
    """Save a status change and its timeline entry (inside the caller's lock)."""
    incident.version += 1
    incident.updated_at = now
    changes = {**(field_changes or {}), "status": [from_status, incident.status]}
    tags = merged_tags(incident, custom_tags(incident), now=now)
    if tags != incident.tags:
        changes["tags"] = [incident.tags, tags]
        incident.tags = tags
    incident.full_clean()
    incident.save(
        update_fields=[
            "status",
            "resolved_at",
            "closed_at",
            "monitoring_ends_at",
            "tags",
            "version",
            "updated_at",
        ]
    )
    record_timeline_event(
        incident=incident,
        kind=kind,
        actor=actor,
        at=now,
        details={"version": incident.version, "changes": changes, **details},
    )


def person_name(user: User | None) -> str | None:
    return (user.get_full_name() or user.get_username()) if user else None


def require_permission(
    actor: User | None,
    permission: str,
    refusal: str = "Your role may not do that; ask a colleague who can.",
) -> None:
    """Refuse a person without ``permission``; the system (None) runs on rules
    the admin set and may act."""
    if actor is not None and not actor.has_perm(permission):
        raise ValidationError(refusal, code="not_allowed")
