"""A major incident's communication plan page."""

from django.db.models import Count, QuerySet

from ..models import (
    CommunicationPlan,
    CommunicationPlanRow,
    Incident,
)


def communication_plan_page(*, incident_id: int) -> tuple:
    """Return a plan and its sections, each with its rows (three queries)."""
    plan = CommunicationPlan.objects.select_related(
        "incident", "owner", "approved_by", "submitted_by", "created_by"
    ).get(incident_id=incident_id)
    sections = list(plan.sections.all())
    rows: dict[int, list] = {s.pk: [] for s in sections}
    statuses = set(Incident.Status.labels)
    for row in CommunicationPlanRow.objects.filter(section__plan=plan):
        if row.key == "current_status" and row.details in statuses:
            # The row the plan was started with names a status: it reads the
            # incident's status now, not the one it had then. Words someone
            # wrote in it instead are theirs, and stay.
            row.details = plan.incident.get_status_display()
        rows[row.section_id].append(row)
    return plan, [(section, rows[section.pk]) for section in sections]


def plans_in_review() -> QuerySet:
    """Return communication plans waiting for approval, oldest first."""
    return (
        CommunicationPlan.objects.filter(status=CommunicationPlan.Status.IN_REVIEW)
        .select_related("incident", "submitted_by", "owner")
        .annotate(row_count=Count("sections__rows"))
        .order_by("submitted_at", "id")
    )
