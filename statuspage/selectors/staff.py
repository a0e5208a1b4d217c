"""What the incident's Status page tab reads."""

from dataclasses import dataclass

from django.db.models import Prefetch

from incidents.models import Incident

from ..models import Component, Publication, PublicUpdate, StatusPage


@dataclass(frozen=True)
class PageForIncident:
    page: StatusPage
    components: list[Component]
    publication: Publication | None
    updates: list[PublicUpdate]  # newest first, posted or not


def pages_for_incident(incident: Incident) -> list[PageForIncident]:
    """Return the live status pages, the incident's policy's first, each with
    what the incident has on it."""
    pages = list(
        StatusPage.objects.filter(is_live=True).prefetch_related(
            Prefetch(
                "components",
                queryset=Component.objects.filter(is_active=True)
                .select_related("group")
                .prefetch_related("categories"),
            )
        )
    )
    pages.sort(key=lambda p: (p.policy_id != incident.policy_id, p.name))
    publications = {
        p.page_id: p
        for p in Publication.objects.filter(incident=incident).prefetch_related(
            "components",
            Prefetch(
                "updates",
                queryset=PublicUpdate.objects.select_related(
                    "message", "created_by"
                ).order_by("-created_at", "-id"),
            ),
        )
    }
    return [
        PageForIncident(
            page=page,
            components=list(page.components.all()),
            publication=publications.get(page.pk),
            updates=list(publications[page.pk].updates.all())
            if page.pk in publications
            else [],
        )
        for page in pages
    ]
