"""How timeline entries read to people: labels and display values.

Entries store field names and raw values (codes, ISO times, lists); pages
and messages about them show what a person would call them.
"""

import bisect
import datetime as dt

from django.core.exceptions import FieldDoesNotExist
from django.utils import formats, timezone
from django.utils.text import capfirst

from .models import Incident, JourneyMilestone, TimelineEvent


def as_local_time(value):
    """Show an ISO timestamp from a timeline entry in the reader's zone."""
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return formats.date_format(moment, "M j, H:i")
    return value


# Timeline keys that are not Incident fields, or read better named otherwise.
CHANGE_LABELS = {
    "tags": "Tags",
    "owner": "Owner",
    "immediate action": "Immediate action",
    "first_response_due_at": "First response due",
    "resolution_due_at": "Resolution due",
    "first_response_at": "First response",
    "severity_criteria": "Severity criteria",
}


def change_label(key: str) -> str:
    if key in CHANGE_LABELS:
        return CHANGE_LABELS[key]
    if key.startswith("journey: "):
        step = key.removeprefix("journey: ")
        return (
            f"Journey: {JourneyMilestone.Step(step).label}"
            if step in (JourneyMilestone.Step.values)
            else capfirst(key)
        )
    try:
        return capfirst(Incident._meta.get_field(key).verbose_name)
    except FieldDoesNotExist:
        return capfirst(key.replace("_", " "))


def change_value(key: str, value):
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if key.startswith("journey: "):
        return dict(JourneyMilestone.State.choices).get(value, value)
    try:
        choices = Incident._meta.get_field(key).choices
    except FieldDoesNotExist:
        choices = None
    if choices:
        return dict(choices).get(value, value)
    return as_local_time(value)


# The timeline's filter: which kinds each view shows. "Everything" leaves out
# only the portal's bookkeeping (follow-up loops re-timed, a plan's rows
# touched), which the filter "with bookkeeping" brings back.
_K = TimelineEvent.Kind
# Missed slots are told by the follow-up they delayed.
BOOKKEEPING = frozenset(
    {
        _K.FOLLOW_UP_LOOP_CHANGED,
        _K.COMMUNICATION_PLAN_CHANGED,
        _K.FOLLOW_UP_SLOTS_MISSED,
    }
)
# Once a message has left (or failed, or was taken back), its "queued" row
# folds into that one.
_MESSAGE_OUTCOMES = frozenset(
    {_K.MESSAGE_SENT, _K.MESSAGE_FAILED, _K.MESSAGE_WITHDRAWN}
)
TIMELINE_VIEWS: dict[str, tuple[str, frozenset[str] | None]] = {
    "": ("Everything", None),
    "messages": (
        "Messages",
        frozenset(k for k in _K.values if k.startswith(("message_", "reply_")))
        | {_K.FIRST_RESPONSE},
    ),
    "status": (
        "Status",
        frozenset(
            {
                _K.OPENED,
                _K.STATUS_CHANGED,
                _K.REOPENED,
                _K.RESOLUTION_RECORDED,
                _K.CLOSE_REFUSED,
                _K.AUTO_CLOSED,
                _K.ARCHIVED,
                _K.SLA_RECOMPUTED,
                _K.SLA_AT_RISK_ALERTED,
                _K.SLA_BREACHED,
            }
        ),
    ),
    "escalations": (
        "Escalations",
        frozenset(k for k in _K.values if k.startswith(("escalation_", "credit_")))
        | {_K.BUG_REPORT_FILED, _K.URGENT_ALERT_POSTED, _K.ON_CALL_PAGED},
    ),
    "checklist": (
        "Checklist",
        frozenset(k for k in _K.values if k.startswith("checklist_")),
    ),
    "people": (
        "People",
        frozenset({_K.OWNER_CHANGED, _K.EDITED, _K.AFFECTED_CUSTOMER_ADDED}),
    ),
    "all": ("With bookkeeping", frozenset(_K.values)),
}


# A bookkeeping row this close to a shown row by the same hand was caused by
# it (the same request or task wrote both).
_CAUSE_WINDOW = dt.timedelta(seconds=5)


def timeline_view(events: list, view: str) -> list:
    """Return the events one view of the timeline shows.

    Outside "with bookkeeping", a bookkeeping row is folded into the shown row
    that caused it (``event.folded``); one with no such row stays out.
    """
    _, kinds = TIMELINE_VIEWS.get(view, TIMELINE_VIEWS[""])
    if view == "all":
        shown = list(events)
        for event in shown:
            event.folded = []
        return shown
    settled = {e.details.get("message") for e in events if e.kind in _MESSAGE_OUTCOMES}
    events = [
        e
        for e in events
        if not (e.kind == _K.MESSAGE_QUEUED and e.details.get("message") in settled)
    ]
    shown = [
        e
        for e in events
        if e.kind not in BOOKKEEPING and (kinds is None or e.kind in kinds)
    ]
    for event in shown:
        event.folded = []
    times = [e.created_at for e in shown]
    for event in events:
        if event.kind in BOOKKEEPING:
            cause = _cause_of(event, shown, times)
            if cause is not None:
                cause.folded.append(event)
    return shown


def _cause_of(event, shown: list, times: list):
    """Return the shown row that caused ``event``: the nearest within the
    cause window that could have, a person's act first; None if none."""
    start = bisect.bisect_left(times, event.created_at - _CAUSE_WINDOW)
    end = bisect.bisect_right(times, event.created_at + _CAUSE_WINDOW)
    return min(
        (c for c in shown[start:end] if _may_cause(c, event)),
        key=lambda c: (c.actor_id is None, abs(c.created_at - event.created_at)),
        default=None,
    )


_OPENINGS = frozenset({_K.OPENED, _K.REOPENED})


def _may_cause(row, event) -> bool:
    # A loop starts because the incident opened (or reopened), whoever's
    # sweep writes it down; anything else the portal re-times follows an act
    # of the same hand, or a person's just before (e.g. an escalation's
    # promise re-timing the customer's loop).
    if event.kind == _K.FOLLOW_UP_LOOP_CHANGED and event.details.get("change") in (
        "opened",
        "reopened",
    ):
        return row.kind in _OPENINGS
    return row.actor_id == event.actor_id or (
        event.actor_id is None
        and row.actor_id is not None
        and row.created_at <= event.created_at
    )
