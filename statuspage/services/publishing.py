"""Publishing an incident on a status page, and posting what was approved."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_q.tasks import async_task

from comms import services as comms_services
from comms.models import Message, Stage
from incidents.models import Incident, Priority

from ..models import (
    Component,
    Impact,
    Publication,
    PublicStatus,
    PublicUpdate,
    StatusPage,
)

# 27: a systemic incident, or a P1 or P2, may be published.
PUBLISHABLE_PRIORITIES = (Priority.P1, Priority.P2)
INCIDENT_STATUSES = (
    PublicStatus.INVESTIGATING,
    PublicStatus.IDENTIFIED,
    PublicStatus.MONITORING,
    PublicStatus.RESOLVED,
)


class StalePost(Exception):
    """A post older than one already public."""


def _error(field: str, text: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(text, code=code)})


def suggested_components(incident: Incident, page: StatusPage) -> QuerySet:
    """Return the page's components the incident's category maps to."""
    return page.components.filter(is_active=True, categories=incident.category_id)


@transaction.atomic
def publish_from_incident(
    *,
    incident: Incident,
    actor,
    page: StatusPage,
    components: list[Component],
    impact: str,
    status: str,
    title: str,
    body: str,
) -> PublicUpdate:
    """Post an incident's update to a status page, as a message to many.

    The message's rules decide when it goes: a manager's approval where the
    delivery rules ask for one, nothing at all while a security incident
    waits for Legal. The update is public once the message is delivered.
    """
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    publication = (
        Publication.objects.select_for_update()
        .filter(page=page, incident=incident)
        .first()
    )
    if not page.is_live:
        raise _error("page", f"{page.name} is not live.", "page_not_live")
    if publication is None and not (
        incident.is_systemic or incident.priority in PUBLISHABLE_PRIORITIES
    ):
        raise ValidationError(
            f"{incident.reference} is {incident.get_priority_display()} and not "
            "systemic: the status page carries P1, P2 and systemic incidents.",
            code="not_publishable",
        )
    over = incident.status in (Incident.Status.RESOLVED, *Incident.CLOSED_STATUSES)
    if incident.status in Incident.CLOSED_STATUSES and (
        publication is None or not publication.is_open
    ):
        raise ValidationError(
            f"{incident.reference} is closed, and the status page shows nothing "
            "of it still going on.",
            code="incident_closed",
        )
    if status not in INCIDENT_STATUSES:
        raise _error("status", "Choose a public status.", "bad_status")
    if impact not in Impact.values or impact == Impact.MAINTENANCE:
        raise _error("impact", "Choose an impact.", "bad_impact")
    resolved = status == PublicStatus.RESOLVED
    if resolved != over:
        # A closed incident the page still shows as going on gets its
        # resolved notice late rather than never.
        raise _error(
            "status",
            "“Resolved” is posted once the incident is resolved or closed, and "
            "only then.",
            "status_disagrees",
        )
    if resolved:
        impact = Impact.OPERATIONAL
    elif impact == Impact.OPERATIONAL:
        raise _error(
            "impact",
            "An open incident affects its components: choose how badly.",
            "no_impact",
        )
    foreign = [c for c in components if c.page_id != page.pk or not c.is_active]
    if not components or foreign:
        raise _error(
            "components",
            f"Choose at least one of {page.name}'s components.",
            "bad_components",
        )
    title, body = " ".join(title.split()), body.strip()
    if not title or not body:
        raise _error(
            "body" if title else "title",
            "The public sees a title and a text; write both.",
            "empty_post",
        )
    waiting = (
        PublicUpdate.objects.filter(
            publication=publication,
            posted_at__isnull=True,
            message__status__in=[
                Message.Status.AWAITING_APPROVAL,
                Message.Status.QUEUED,
                Message.Status.SENDING,
            ],
        ).exists()
        if publication
        else False
    )
    if waiting:
        raise ValidationError(
            "An earlier post to this page has not gone out yet; approve, reject "
            "or cancel it first, so the page keeps its order.",
            code="post_waiting",
        )
    if publication is None:
        publication = Publication.objects.create(
            page=page, incident=incident, title=title, created_by=actor
        )
    message = comms_services.send_status_page_post(
        incident=incident,
        actor=actor,
        page_slug=page.slug,
        title=title,
        body=body,
        stage=Stage.RESOLUTION if resolved else Stage.FOLLOW_UP,
    )
    update = PublicUpdate.objects.create(
        publication=publication,
        message=message,
        status=status,
        impact=impact,
        body=body,
        created_by=actor,
    )
    update.components.set(components)
    return update


@transaction.atomic
def post_update(*, message: Message) -> PublicUpdate:
    """Make the update a delivered status page message carries public.

    Idempotent: a second delivery of the same message posts nothing.
    """
    update = (
        PublicUpdate.objects.select_for_update()
        .select_related("publication")
        .get(message_id=message.pk)
    )
    if update.posted_at is not None:
        return update
    if PublicUpdate.objects.filter(
        publication_id=update.publication_id,
        pk__gt=update.pk,
        posted_at__isnull=False,
    ).exists():
        # An old post retried after a newer one went up would move the page
        # back; it is refused, and the sweep withdraws it.
        raise StalePost(
            "A newer post on this page is already public; this one would take "
            "the page back to an older state."
        )
    now = timezone.now()
    # What the approver let go is what the public reads.
    update.body = message.body
    update.posted_at = now
    update.save(update_fields=["body", "posted_at"])
    publication = update.publication
    publication.title = message.subject
    publication.status = update.status
    publication.impact = update.impact
    publication.starts_at = publication.starts_at or now
    publication.ends_at = now if update.status == PublicStatus.RESOLVED else None
    publication.save(
        update_fields=["title", "status", "impact", "starts_at", "ends_at"]
    )
    publication.components.set(update.components.all())
    StatusPage.objects.filter(pk=publication.page_id).update(updated_at=now)
    update_id = update.pk
    transaction.on_commit(
        lambda: async_task("statuspage.tasks.notify_subscribers", update_id)
    )
    return update
