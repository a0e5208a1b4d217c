"""A status page with 90 days of history for the served benchmark.

Twelve components in three groups and 180 published incidents over the last
90 days, each with three posted updates, so the uptime bars and the history
have the work a busy page has.
"""

import datetime as dt

BENCH_SLUG = "bench-status"
COMPONENTS = 12
PUBLICATIONS = 180


def ensure_status_page():
    """Return the bench's status page, made once."""
    from django.utils import timezone

    from incidents.models import Incident
    from statuspage.models import (
        Component,
        ComponentGroup,
        Impact,
        Publication,
        PublicStatus,
        PublicUpdate,
        StatusPage,
    )

    page = StatusPage.objects.filter(slug=BENCH_SLUG).first()
    if page is not None:
        return page
    page = StatusPage.objects.create(
        name="Bench status", slug=BENCH_SLUG, brand_text="Bench", time_zone="UTC"
    )
    groups = [
        ComponentGroup.objects.create(page=page, name=f"Group {n}", position=n)
        for n in range(3)
    ]
    components = [
        Component.objects.create(
            page=page, group=groups[n % 3], name=f"Component {n}", position=n
        )
        for n in range(COMPONENTS)
    ]
    incidents = list(
        Incident.objects.order_by("pk").values_list("pk", flat=True)[:PUBLICATIONS]
    )
    now = timezone.now()
    impacts = [Impact.DEGRADED, Impact.PARTIAL_OUTAGE, Impact.MAJOR_OUTAGE]
    for n, incident_id in enumerate(incidents):
        started = now - dt.timedelta(hours=12 * n + 3)
        open_one = n < 2
        publication = Publication.objects.create(
            page=page,
            incident_id=incident_id,
            title=f"Bench incident {n}",
            impact=impacts[n % 3],
            status=PublicStatus.MONITORING if open_one else PublicStatus.RESOLVED,
            starts_at=started,
            ends_at=None if open_one else started + dt.timedelta(hours=2),
        )
        touched = [components[n % COMPONENTS], components[(n * 5) % COMPONENTS]]
        publication.components.set(touched)
        steps = [
            (PublicStatus.INVESTIGATING, impacts[n % 3], 0),
            (PublicStatus.IDENTIFIED, impacts[n % 3], 40),
            (
                PublicStatus.MONITORING if open_one else PublicStatus.RESOLVED,
                impacts[n % 3] if open_one else Impact.OPERATIONAL,
                120,
            ),
        ]
        for status, impact, minutes in steps:
            update = PublicUpdate.objects.create(
                publication=publication,
                status=status,
                impact=impact,
                body=f"Bench update: {status} for incident {n}. " * 3,
                posted_at=started + dt.timedelta(minutes=minutes),
            )
            update.components.set(touched)
    return page
