"""How a post-mortem's timeline writes itself from an incident's history.

The carrier communication playbook, part 8, names the moments a
post-mortem's timeline shows (first detected, internal alert, customer
notified, …). Each is found in the incident's own
timeline events: the earliest event that marks it, or none yet.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from .models import Incident, PostMortemMilestone, TimelineEvent

Kind = TimelineEvent.Kind
Milestone = PostMortemMilestone

CLOSED_STATUSES = ("closed", "closed_pending")
EXTERNAL_AUDIENCES = ("partner", "vendor")
ESCALATION_KINDS = (Kind.ESCALATION_REQUESTED, Kind.ESCALATION_TRIGGERED)


@dataclass(frozen=True)
class MilestoneRow:
    milestone: str
    at: dt.datetime
    text: str
    event: TimelineEvent | None


def _new_status(event: TimelineEvent) -> str | None:
    status = (event.details.get("changes") or {}).get("status")
    if isinstance(status, list) and len(status) == 2:
        return status[1]
    return None


def _changed_to_text(event: TimelineEvent, field: str) -> str | None:
    change = (event.details.get("changes") or {}).get(field)
    if isinstance(change, list) and len(change) == 2 and change[1]:
        return str(change[1])
    return None


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sent(event: TimelineEvent, *audiences: str) -> bool:
    return event.kind == Kind.MESSAGE_SENT and event.details.get("audience") in (
        audiences
    )


def _detected(incident: Incident, events: list[TimelineEvent]) -> MilestoneRow:
    opened = next((e for e in events if e.kind == Kind.OPENED), None)
    if incident.signal_id:
        source = f"signal {incident.signal.code} ({incident.signal.description})"
    else:
        source = "a report"
    return MilestoneRow(
        Milestone.DETECTED,
        incident.detected_at,
        f"Issue first detected by {source}",
        opened,
    )


def _first(
    events: list[TimelineEvent], test
) -> tuple[TimelineEvent, object] | tuple[None, None]:
    for event in events:
        found = test(event)
        if found:
            return event, found
    return None, None


def milestone_rows(
    incident: Incident, events: Iterable[TimelineEvent]
) -> list[MilestoneRow]:
    """Return the post-mortem timeline rows the incident's history supports."""
    events = sorted(events, key=lambda e: (e.created_at, e.pk or 0))
    rows = [_detected(incident, events)]

    def add(milestone, test, text):
        event, found = _first(events, test)
        if event is not None:
            rows.append(
                MilestoneRow(milestone, event.created_at, text(event, found), event)
            )

    add(
        Milestone.INTERNAL_ALERT,
        lambda e: _sent(e, "internal"),
        lambda e, _: _alert_text(e),
    )
    add(
        Milestone.CUSTOMER_NOTIFIED,
        lambda e: _sent(e, "customer"),
        lambda e, _: f"Customer notified: {_short(e.details.get('subject', ''), 80)}",
    )
    escalations = [e for e in events if e.kind in ESCALATION_KINDS]
    if escalations:
        later = list(dict.fromkeys(e.details.get("tier", "") for e in escalations[1:]))
        rows.append(
            MilestoneRow(
                Milestone.ESCALATED,
                escalations[0].created_at,
                _escalated_text(escalations[0])
                + (f"; later to {', '.join(t for t in later if t)}" if later else ""),
                escalations[0],
            )
        )
    add(
        Milestone.PARTY_ENGAGED,
        lambda e: (
            _sent(e, *EXTERNAL_AUDIENCES)
            or (e.kind in ESCALATION_KINDS and e.details.get("path") == "carrier")
        ),
        lambda e, _: _engaged_text(e),
    )
    # Written by an edit, or in the resolve form: whichever recorded it first.
    root_cause_event, root_cause = _first(
        events,
        lambda e: (
            e.kind in (Kind.EDITED, Kind.RESOLUTION_RECORDED)
            and _changed_to_text(e, "root_cause")
        ),
    )
    if root_cause_event is None and incident.root_cause.strip():
        # Known when the incident was opened: no edit ever set it.
        root_cause_event = next((e for e in events if e.kind == Kind.OPENED), None)
        root_cause = incident.root_cause
    if root_cause_event is not None:
        rows.append(
            MilestoneRow(
                Milestone.ROOT_CAUSE,
                root_cause_event.created_at,
                f"Root cause identified: {_short(root_cause)}",
                root_cause_event,
            )
        )
    add(
        Milestone.FIX_APPLIED,
        lambda e: (
            _new_status(e) == "monitoring"
            or (e.kind == Kind.EDITED and _changed_to_text(e, "fix_summary"))
            or e.kind == Kind.RESOLUTION_RECORDED
        ),
        lambda e, found: (
            "Fix applied" + (f": {_short(found)}" if isinstance(found, str) else "")
        ),
    )
    add(
        Milestone.VERIFIED,
        lambda e: _new_status(e) == "resolved" or e.kind == Kind.RESOLUTION_RECORDED,
        lambda e, _: "Resolution verified",
    )
    notified = _stakeholders_notified(events)
    if notified is not None:
        rows.append(
            MilestoneRow(
                Milestone.STAKEHOLDERS_NOTIFIED,
                notified.created_at,
                "All stakeholders notified of the resolution",
                notified,
            )
        )
    add(
        Milestone.CLOSED,
        lambda e: _new_status(e) in CLOSED_STATUSES or e.kind == Kind.AUTO_CLOSED,
        lambda e, _: (
            "Closed by rule" if e.kind == Kind.AUTO_CLOSED else "Ticket closed"
        ),
    )
    return rows


def _alert_text(event: TimelineEvent) -> str:
    subject = event.details.get("subject")
    if subject:
        return f"Internal alert sent: {_short(subject, 80)}"
    how = {"chat": "in chat", "note": "as a ticket note", "email": "by e-mail"}
    return f"Internal alert sent {how.get(event.details.get('channel'), '')}".strip()


def _escalated_text(event: TimelineEvent) -> str:
    by = "by rule" if event.kind == Kind.ESCALATION_TRIGGERED else ""
    return " ".join(
        part
        for part in ("Escalated", by, f"to {event.details.get('tier', '')}")
        if part
    )


def _engaged_text(event: TimelineEvent) -> str:
    """A message sent to the partner or vendor, or an escalation to the
    carrier's own tier: either puts the outside party to work."""
    if event.kind in ESCALATION_KINDS:
        return f"Carrier engaged: escalated to {event.details.get('tier', '')}"
    who = str(event.details.get("audience") or "partner").capitalize()
    subject = event.details.get("subject")
    return f"{who} engaged: {_short(subject, 80)}" if subject else f"{who} engaged"


def _stakeholders_notified(events: list[TimelineEvent]) -> TimelineEvent | None:
    """Return the resolution message that completed the round, if one did.

    Everyone who heard about the incident (each audience that got a message)
    must also hear it is resolved; the last of those messages marks the
    moment.
    """
    told = {e.details.get("audience") for e in events if e.kind == Kind.MESSAGE_SENT}
    if not told:
        return None
    waiting, last = set(told), None
    for event in events:
        if event.kind == Kind.MESSAGE_SENT and event.details.get("stage") in (
            "resolution",
            "closure",
        ):
            waiting.discard(event.details.get("audience"))
            last = event
            if not waiting:
                return last
    return None
