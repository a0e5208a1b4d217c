"""Post-mortems: the list, the page, and overdue action items."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from ..models import (
    ActionItem,
    PostMortem,
    PostMortemTimelineRow,
    SecurityResponse,
)
from .lists import REFERENCE_PATTERN


def postmortem_list(*, search: str = "", status: str = "") -> QuerySet:
    """Return post-mortems matching a search, newest first, ready to list."""
    postmortems = PostMortem.objects.select_related(
        "incident", "incident__customer", "incident__category"
    ).only(
        "id",
        "status",
        "scheduled_on",
        "summary",
        "created_at",
        "published_at",
        "incident__id",
        "incident__title",
        "incident__priority",
        "incident__is_systemic",
        "incident__customer__name",
        "incident__category__name",
    )
    if status:
        postmortems = postmortems.filter(status=status)
    search = search.strip()
    if search:
        match = REFERENCE_PATTERN.match(search)
        if match:
            postmortems = postmortems.filter(incident_id=int(match.group(1)))
        else:
            postmortems = postmortems.filter(
                Q(incident__title__icontains=search)
                | Q(summary__icontains=search)
                | Q(attendees__icontains=search)
            )
    return postmortems.order_by("-created_at", "-id")


@dataclass(frozen=True)
class PostMortemPage:
    postmortem: PostMortem
    rows: list[PostMortemTimelineRow]
    actions: list[ActionItem]
    # A security incident's written report (004 step 7: the complete
    # incident report belongs with the lessons learned); None until written.
    security_report: SecurityResponse | None = None


def postmortem_page(*, incident_id: int) -> PostMortemPage:
    """Return a post-mortem with its timeline rows and action items."""
    postmortem = PostMortem.objects.select_related(
        "incident", "incident__customer", "incident__category", "published_by"
    ).get(incident_id=incident_id)
    return PostMortemPage(
        postmortem=postmortem,
        rows=list(postmortem.timeline_rows.all()),
        actions=list(postmortem.action_items.select_related("owner")),
        security_report=SecurityResponse.objects.filter(
            incident_id=incident_id, report_written_at__isnull=False
        )
        .only(
            "incident_id",
            "incident_type",
            "attack_vectors",
            "data_accessed",
            "actions_taken",
            "report_written_at",
            "report_written_by",
        )
        .select_related("report_written_by")
        .first(),
    )


def overdue_action_items(*, now: dt.datetime, owner=None, limit: int = 10) -> list:
    """Return open post-mortem actions past their deadline, oldest first.

    With ``owner``, only that person's; without, everyone's (for managers).
    """
    overdue = ActionItem.objects.filter(
        status=ActionItem.Status.OPEN,
        postmortem__isnull=False,
        due_at__lt=now,
    )
    if owner is not None:
        overdue = overdue.filter(owner=owner)
    return list(
        overdue.select_related("incident", "owner")
        .only(
            "id",
            "what",
            "kind",
            "due_at",
            "incident__id",
            "incident__title",
            "owner__username",
            "owner__first_name",
            "owner__last_name",
        )
        .order_by("due_at", "id")[:limit]
    )


def postmortems_in_review() -> QuerySet:
    """Return post-mortems waiting for a reviewer, oldest submission first."""
    return (
        PostMortem.objects.filter(status=PostMortem.Status.IN_REVIEW)
        .select_related("incident", "submitted_by")
        .order_by("submitted_at", "id")
    )
