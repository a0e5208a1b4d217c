"""Post-mortems: started, written, reviewed and published."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import (
    postmortems,
)
from ..models import (
    POSTMORTEM_ACTION_KINDS,
    ActionItem,
    Incident,
    PostMortem,
    PostMortemTimelineRow,
    Priority,
    TimelineEvent,
)
from .records import (
    User,
    field_error,
    lock_incident,
    person_name,
    record_timeline_event,
    require_permission,
)

POSTMORTEM_PRIORITIES = (Priority.P1, Priority.P2)


def postmortem_required(incident: Incident) -> bool:
    """Return whether the incident must have a post-mortem (P1, P2, systemic)."""
    return incident.priority in POSTMORTEM_PRIORITIES or incident.is_systemic


def _postmortem_event(
    postmortem: PostMortem, *, actor: User | None, change: str, at: dt.datetime, **extra
) -> None:
    # The closure checklist's "post-mortem scheduled" item reads these
    # details; keep the keys of the contract (postmortem, status, scheduled_on).
    record_timeline_event(
        incident=postmortem.incident,
        kind=TimelineEvent.Kind.POSTMORTEM_CHANGED,
        actor=actor,
        at=at,
        details={
            "postmortem": postmortem.pk,
            "status": postmortem.status,
            "scheduled_on": postmortem.scheduled_on.isoformat()
            if postmortem.scheduled_on
            else None,
            "change": change,
            **extra,
        },
    )


def _lock_postmortem(postmortem: PostMortem, *, editing: bool = True) -> PostMortem:
    locked = (
        PostMortem.objects.select_for_update(of=("self",))
        .select_related("incident")
        .get(pk=postmortem.pk)
    )
    if editing and locked.status == PostMortem.Status.PUBLISHED:
        raise ValidationError(
            "The post-mortem is published; it can no longer change.",
            code="published",
        )
    return locked


def _lock_for_edit(postmortem: PostMortem, actor: User | None) -> PostMortem:
    """Lock a post-mortem to change it; one in review goes back to draft.

    A reviewer approves the text they read: a change after submission
    needs a fresh review, so nobody publishes words nobody reviewed.
    """
    locked = _lock_postmortem(postmortem)
    if locked.status == PostMortem.Status.IN_REVIEW:
        now = timezone.now()
        locked.status = PostMortem.Status.DRAFT
        locked.updated_at = now
        locked.save(update_fields=["status", "updated_at"])
        _postmortem_event(
            locked,
            actor=actor,
            change="returned",
            at=now,
            reason="Edited while in review; send it for review again.",
        )
    return locked


def _milestone_rows(postmortem: PostMortem, incident: Incident, skip: set[str]):
    events = TimelineEvent.objects.filter(incident=incident).order_by(
        "created_at", "id"
    )
    return [
        PostMortemTimelineRow(
            postmortem=postmortem,
            at=row.at,
            text=row.text[:300],
            milestone=row.milestone,
            source_event=row.event,
            position=position,
        )
        for position, row in enumerate(postmortems.milestone_rows(incident, events))
        if row.milestone not in skip
    ]


@transaction.atomic
def start_postmortem(
    *,
    incident: Incident,
    actor: User | None,
    scheduled_on: dt.date | None = None,
    is_security_review: bool = False,
) -> PostMortem:
    """Open the incident's post-mortem, its timeline written from its history."""
    require_permission(
        actor, "incidents.add_postmortem", "You may not start post-mortems."
    )
    incident = lock_incident(incident, None)
    if PostMortem.objects.filter(incident=incident).exists():
        raise ValidationError(
            f"{incident.reference} already has a post-mortem.", code="already_started"
        )
    now = timezone.now()
    postmortem = PostMortem.objects.create(
        incident=incident,
        scheduled_on=scheduled_on,
        is_security_review=is_security_review,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    PostMortemTimelineRow.objects.bulk_create(
        _milestone_rows(postmortem, incident, skip=set())
    )
    _postmortem_event(postmortem, actor=actor, change="started", at=now)
    return postmortem


@transaction.atomic
def refresh_postmortem_timeline(
    *, postmortem: PostMortem, actor: User | None
) -> list[PostMortemTimelineRow]:
    """Add the moments the incident reached since the timeline was written.

    Rows already there stay as people left them (edited, hidden or not).
    """
    postmortem = _lock_for_edit(postmortem, actor)
    present = set(
        postmortem.timeline_rows.exclude(milestone="").values_list(
            "milestone", flat=True
        )
    )
    rows = PostMortemTimelineRow.objects.bulk_create(
        _milestone_rows(postmortem, postmortem.incident, skip=present)
    )
    if rows:
        now = timezone.now()
        postmortem.updated_at = now
        postmortem.save(update_fields=["updated_at"])
        _postmortem_event(
            postmortem,
            actor=actor,
            change="timeline_refreshed",
            at=now,
            added=[row.milestone for row in rows],
        )
    return rows


POSTMORTEM_TEXT_FIELDS = ("attendees", "summary", "went_well", "went_wrong")


@transaction.atomic
def edit_postmortem(
    *,
    postmortem: PostMortem,
    actor: User,
    scheduled_on: dt.date | None,
    attendees: str,
    summary: str,
    went_well: str,
    went_wrong: str,
) -> PostMortem:
    """Save the post-mortem's date, attendees and findings."""
    require_permission(
        actor, "incidents.change_postmortem", "You may not edit post-mortems."
    )
    postmortem = _lock_for_edit(postmortem, actor)
    values = {
        "scheduled_on": scheduled_on,
        "attendees": attendees.strip(),
        "summary": summary.strip(),
        "went_well": went_well.strip(),
        "went_wrong": went_wrong.strip(),
    }
    changed = [
        name for name, value in values.items() if getattr(postmortem, name) != value
    ]
    if not changed:
        return postmortem
    for name in changed:
        setattr(postmortem, name, values[name])
    now = timezone.now()
    postmortem.updated_at = now
    postmortem.save(update_fields=[*changed, "updated_at"])
    _postmortem_event(postmortem, actor=actor, change="edited", at=now, fields=changed)
    return postmortem


def _check_row_time(at: dt.datetime) -> None:
    if at > timezone.now():
        raise field_error(
            "at", "A timeline row cannot be in the future.", code="future_row"
        )


@transaction.atomic
def add_postmortem_row(
    *, postmortem: PostMortem, actor: User, at: dt.datetime, text: str
) -> PostMortemTimelineRow:
    """Add a line of one's own to the post-mortem's timeline."""
    postmortem = _lock_for_edit(postmortem, actor)
    if not text.strip():
        raise field_error("text", "Say what happened at that time.", code="empty_row")
    _check_row_time(at)
    row = PostMortemTimelineRow.objects.create(
        postmortem=postmortem, at=at, text=text.strip(), is_edited=True
    )
    _postmortem_event(
        postmortem, actor=actor, change="row_added", at=timezone.now(), row=row.pk
    )
    return row


@transaction.atomic
def edit_postmortem_row(
    *, row: PostMortemTimelineRow, actor: User, at: dt.datetime, text: str
) -> PostMortemTimelineRow:
    """Correct a timeline line's time or words."""
    postmortem = _lock_for_edit(row.postmortem, actor)
    row = PostMortemTimelineRow.objects.get(pk=row.pk, postmortem=postmortem)
    if not text.strip():
        raise field_error("text", "Say what happened at that time.", code="empty_row")
    _check_row_time(at)
    if (row.at, row.text) == (at, text.strip()):
        return row
    row.at, row.text, row.is_edited = at, text.strip(), True
    row.save(update_fields=["at", "text", "is_edited"])
    _postmortem_event(
        postmortem, actor=actor, change="row_edited", at=timezone.now(), row=row.pk
    )
    return row


@transaction.atomic
def hide_postmortem_row(
    *, row: PostMortemTimelineRow, actor: User, hidden: bool = True
) -> PostMortemTimelineRow:
    """Hide a timeline line from the post-mortem (or show it again)."""
    postmortem = _lock_for_edit(row.postmortem, actor)
    row = PostMortemTimelineRow.objects.get(pk=row.pk, postmortem=postmortem)
    if row.is_hidden == hidden:
        return row
    row.is_hidden = hidden
    row.save(update_fields=["is_hidden"])
    _postmortem_event(
        postmortem,
        actor=actor,
        change="row_hidden" if hidden else "row_shown",
        at=timezone.now(),
        row=row.pk,
    )
    return row


def end_of_day(day: dt.date) -> dt.datetime:
    """Return the last minute of ``day`` in the current (the reader's) zone."""
    return dt.datetime.combine(
        day, dt.time(23, 59), tzinfo=timezone.get_current_timezone()
    )


@transaction.atomic
def add_postmortem_action(
    *,
    postmortem: PostMortem,
    actor: User,
    what: str,
    kind: str,
    owner: User | None,
    deadline_on: dt.date | None,
) -> ActionItem:
    """Agree an action: what, which kind, who owns it and by when."""
    require_permission(
        actor, "incidents.change_postmortem", "You may not edit post-mortems."
    )
    postmortem = _lock_for_edit(postmortem, actor)
    errors: dict[str, ValidationError] = {}
    if not what.strip():
        errors["what"] = ValidationError(
            "Say what is to be done.", code="what_required"
        )
    if kind not in POSTMORTEM_ACTION_KINDS:
        errors["kind"] = ValidationError(
            "Pick preventive, process or monitoring.", code="bad_kind"
        )
    if owner is None:
        errors["owner"] = ValidationError(
            "Every action needs an owner.", code="owner_required"
        )
    elif not owner.is_active:
        errors["owner"] = ValidationError(
            "That person's account is inactive.", code="inactive_owner"
        )
    if deadline_on is None:
        errors["deadline_on"] = ValidationError(
            "Every action needs a deadline.", code="deadline_required"
        )
    elif deadline_on < timezone.localdate():
        errors["deadline_on"] = ValidationError(
            "The deadline is in the past.", code="deadline_past"
        )
    if errors:
        raise ValidationError(errors)
    item = ActionItem.objects.create(
        incident=postmortem.incident,
        postmortem=postmortem,
        kind=kind,
        what=what.strip(),
        who=(person_name(owner) or "")[:100],
        owner=owner,
        due_at=end_of_day(deadline_on),
    )
    postmortem.updated_at = timezone.now()
    postmortem.save(update_fields=["updated_at"])
    _postmortem_event(
        postmortem,
        actor=actor,
        change="action_added",
        at=postmortem.updated_at,
        action=item.pk,
        what=item.what,
        owner=item.who,
        deadline=deadline_on.isoformat(),
    )
    return item


def postmortem_gaps(postmortem: PostMortem) -> list[str]:
    """Return what a post-mortem still lacks before review or publication."""
    gaps = []
    if not postmortem.summary.strip():
        gaps.append("a summary")
    if not postmortem.went_well.strip():
        gaps.append("what went well")
    if not postmortem.went_wrong.strip():
        gaps.append("what went wrong")
    if not postmortem.timeline_rows.filter(is_hidden=False).exists():
        gaps.append("at least one visible timeline row")
    actions = list(postmortem.action_items.all())
    if not actions:
        gaps.append("at least one action item")
    if any(a.owner_id is None or a.due_at is None for a in actions):
        gaps.append("an owner and a deadline on every action")
    return gaps


def _refuse_gaps(postmortem: PostMortem, verb: str) -> None:
    gaps = postmortem_gaps(postmortem)
    if gaps:
        raise ValidationError(
            f"The post-mortem cannot be {verb} yet: it needs {', '.join(gaps)}.",
            code="postmortem_incomplete",
        )


@transaction.atomic
def submit_postmortem_for_review(*, postmortem: PostMortem, actor: User) -> PostMortem:
    """Hand the finished draft to reviewers."""
    require_permission(
        actor, "incidents.change_postmortem", "You may not edit post-mortems."
    )
    postmortem = _lock_postmortem(postmortem)
    if postmortem.status != PostMortem.Status.DRAFT:
        raise ValidationError("Only a draft goes to review.", code="not_draft")
    _refuse_gaps(postmortem, "sent for review")
    now = timezone.now()
    postmortem.status = PostMortem.Status.IN_REVIEW
    postmortem.submitted_by, postmortem.submitted_at = actor, now
    postmortem.updated_at = now
    postmortem.save(
        update_fields=["status", "submitted_by", "submitted_at", "updated_at"]
    )
    _postmortem_event(postmortem, actor=actor, change="submitted", at=now)
    return postmortem


@transaction.atomic
def return_postmortem_to_draft(
    *, postmortem: PostMortem, actor: User, reason: str
) -> PostMortem:
    """Send a post-mortem under review back to its authors, saying why."""
    require_permission(
        actor, "incidents.publish_postmortem", "Only reviewers send post-mortems back."
    )
    if not reason.strip():
        raise field_error("reason", "Say what needs changing.", code="reason_required")
    postmortem = _lock_postmortem(postmortem)
    if postmortem.status != PostMortem.Status.IN_REVIEW:
        raise ValidationError(
            "Only a post-mortem in review goes back.", code="not_in_review"
        )
    now = timezone.now()
    postmortem.status = PostMortem.Status.DRAFT
    postmortem.updated_at = now
    postmortem.save(update_fields=["status", "updated_at"])
    _postmortem_event(
        postmortem, actor=actor, change="returned", at=now, reason=reason.strip()
    )
    return postmortem


@transaction.atomic
def publish_postmortem(*, postmortem: PostMortem, actor: User) -> PostMortem:
    """Publish a reviewed post-mortem; it is read-only from then on."""
    require_permission(
        actor, "incidents.publish_postmortem", "You may not publish post-mortems."
    )
    postmortem = _lock_postmortem(postmortem)
    if postmortem.status != PostMortem.Status.IN_REVIEW:
        raise ValidationError(
            "A post-mortem is reviewed before it is published: send it for "
            "review first.",
            code="not_in_review",
        )
    if actor is not None and actor.pk in (
        postmortem.created_by_id,
        postmortem.submitted_by_id,
    ):
        raise ValidationError(
            "You wrote or submitted this post-mortem; another reviewer publishes it.",
            code="own_postmortem",
        )
    _refuse_gaps(postmortem, "published")
    now = timezone.now()
    postmortem.status = PostMortem.Status.PUBLISHED
    postmortem.published_by, postmortem.published_at = actor, now
    postmortem.updated_at = now
    postmortem.save(
        update_fields=["status", "published_by", "published_at", "updated_at"]
    )
    _postmortem_event(postmortem, actor=actor, change="published", at=now)
    return postmortem
