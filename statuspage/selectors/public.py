"""What the public status page reads: public fields only, in a fixed number
of queries however many publications, updates and components a page has.

The page's templates, JSON and feeds are given the plain values built here,
never model instances, so nothing a template could reach through a
relation (the incident, its customer, the message) is within its reach.
"""

import datetime as dt
import math
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from ..models import (
    IMPACT_ORDER,
    Component,
    ComponentGroup,
    Impact,
    Publication,
    PublicStatus,
    PublicUpdate,
    StatusPage,
)

UPTIME_DAYS = 90
PAST_DAYS = 14
FEED_LENGTH = 50
# Atlassian's weighting: a partial outage counts 30 % of its minutes as down.
DOWNTIME_WEIGHT = {Impact.MAJOR_OUTAGE: 1.0, Impact.PARTIAL_OUTAGE: 0.3}
# While something is happening the bars and percentages move by the minute.
BUSY_REFRESH = dt.timedelta(seconds=60)
PUBLIC_PAGE_FIELDS = (
    "id",
    "name",
    "slug",
    "brand_text",
    "intro",
    "time_zone",
    "host",
    "is_live",
    "updated_at",
)
STATUS_DESCRIPTION = {
    Impact.OPERATIONAL: "All systems operational",
    Impact.MAINTENANCE: "Maintenance in progress",
    Impact.DEGRADED: "Degraded performance",
    Impact.PARTIAL_OUTAGE: "Partial outage",
    Impact.MAJOR_OUTAGE: "Major outage",
}
OPEN_STATUSES = [
    PublicStatus.INVESTIGATING,
    PublicStatus.IDENTIFIED,
    PublicStatus.MONITORING,
    PublicStatus.SCHEDULED,
    PublicStatus.IN_PROGRESS,
]


@dataclass(frozen=True)
class PostedUpdate:
    id: int
    status: str
    status_label: str
    impact: str
    body: str
    posted_at: dt.datetime


@dataclass(frozen=True)
class PublicPublication:
    id: int
    kind: str
    title: str
    status: str
    status_label: str
    impact: str
    impact_label: str
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    component_ids: tuple[int, ...]
    component_names: tuple[str, ...]
    updates: tuple[PostedUpdate, ...]  # newest first
    # Each posted update's components, oldest first (for the uptime bars).
    update_component_ids: tuple[tuple[int, ...], ...] = ()

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_maintenance(self) -> bool:
        return self.kind == Publication.Kind.MAINTENANCE


@dataclass(frozen=True)
class UptimeDay:
    date: dt.date
    impact: str
    text: str


@dataclass(frozen=True)
class ComponentStatus:
    id: int
    name: str
    description: str
    group: str | None
    status: str
    status_label: str
    days: tuple[UptimeDay, ...]
    uptime: str  # "99.95", never rounded up to "100.00"


@dataclass(frozen=True)
class ComponentBlock:
    """A group with its components, or ungrouped components (name None)."""

    name: str | None
    status: str
    status_label: str
    components: tuple[ComponentStatus, ...]


@dataclass(frozen=True)
class PageSnapshot:
    status: str
    status_description: str
    blocks: tuple[ComponentBlock, ...]
    components: tuple[ComponentStatus, ...]
    incidents: tuple[PublicPublication, ...]  # open, newest first
    maintenance: tuple[PublicPublication, ...]  # scheduled or in progress
    past: tuple[PublicPublication, ...]  # closed in the last PAST_DAYS
    first_day: dt.date
    # The snapshot holds from valid_from until expires_at, unless the page
    # changes (then updated_at does).
    valid_from: dt.datetime
    expires_at: dt.datetime


@dataclass(frozen=True)
class FeedItem:
    id: int
    publication_id: int
    title: str
    status_label: str
    body: str
    posted_at: dt.datetime


def live_status_page(*, slug: str) -> StatusPage | None:
    """Return the live page at ``slug`` with its public fields, or None."""
    return (
        StatusPage.objects.only(*PUBLIC_PAGE_FIELDS)
        .filter(slug=slug, is_live=True)
        .first()
    )


def status_page_hosts() -> dict[str, str]:
    """Return each page's own host name with its slug, live or not."""
    return dict(
        StatusPage.objects.exclude(host="").values_list("host", "slug").order_by()
    )


def page_zone(page: StatusPage) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(page.time_zone)


def day_start(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=zone)


def _posted_updates() -> QuerySet[PublicUpdate]:
    return (
        PublicUpdate.objects.filter(posted_at__isnull=False)
        .only("id", "publication_id", "status", "impact", "body", "posted_at")
        .order_by("posted_at", "id")
    )


def _public_publications(page: StatusPage) -> QuerySet[Publication]:
    """Publications of ``page`` with a posted update, with their posted
    updates (oldest first) and components prefetched."""
    posted = PublicUpdate.objects.filter(
        publication=OuterRef("pk"), posted_at__isnull=False
    )
    return (
        Publication.objects.filter(Exists(posted), page=page)
        .only(
            "id",
            "page_id",
            "kind",
            "title",
            "status",
            "impact",
            "starts_at",
            "ends_at",
        )
        .prefetch_related(
            Prefetch("components", queryset=Component.objects.only("id", "name")),
            Prefetch(
                "updates",
                queryset=_posted_updates().prefetch_related(
                    Prefetch("components", queryset=Component.objects.only("id"))
                ),
                to_attr="posted_updates",
            ),
        )
    )


def _as_public(publication: Publication) -> PublicPublication:
    posted = publication.posted_updates  # oldest first
    components = sorted(publication.components.all(), key=lambda c: c.name)
    return PublicPublication(
        id=publication.pk,
        kind=publication.kind,
        title=publication.title,
        status=publication.status,
        status_label=PublicStatus(publication.status).label,
        impact=publication.impact,
        impact_label=Impact(publication.impact).label,
        starts_at=publication.starts_at,
        ends_at=publication.ends_at,
        component_ids=tuple(c.pk for c in components),
        component_names=tuple(c.name for c in components),
        updates=tuple(
            PostedUpdate(
                id=update.pk,
                status=update.status,
                status_label=PublicStatus(update.status).label,
                impact=update.impact,
                body=update.body,
                posted_at=update.posted_at,
            )
            for update in reversed(posted)
        ),
        update_component_ids=tuple(
            tuple(c.pk for c in update.components.all()) for update in posted
        ),
    )


def posted_publication(*, page: StatusPage, pk: int) -> PublicPublication | None:
    """Return publication ``pk`` of ``page`` if something of it was posted."""
    publication = _public_publications(page).filter(pk=pk).first()
    return _as_public(publication) if publication else None


def latest_posted_updates(
    *, page: StatusPage, limit: int = FEED_LENGTH
) -> list[FeedItem]:
    """Return the page's ``limit`` latest posted updates, newest first."""
    updates = (
        PublicUpdate.objects.filter(publication__page=page, posted_at__isnull=False)
        .select_related("publication")
        .only(
            "id",
            "status",
            "body",
            "posted_at",
            "publication__id",
            "publication__title",
        )
        .order_by("-posted_at", "-id")[:limit]
    )
    return [
        FeedItem(
            id=update.pk,
            publication_id=update.publication.pk,
            title=update.publication.title,
            status_label=PublicStatus(update.status).label,
            body=update.body,
            posted_at=update.posted_at,
        )
        for update in updates
    ]


def worst(impacts) -> str:
    return max(impacts, key=IMPACT_ORDER.__getitem__, default=Impact.OPERATIONAL)


def is_current(publication: PublicPublication, now: dt.datetime) -> bool:
    """Tell whether the publication affects its components right now.

    Maintenance counts while in progress or inside its window, not while it
    is merely announced.
    """
    if not publication.is_open:
        return False
    if not publication.is_maintenance:
        return True
    if publication.status == PublicStatus.IN_PROGRESS:
        return True
    return bool(
        publication.starts_at
        and publication.ends_at
        and publication.starts_at <= now < publication.ends_at
    )


def page_snapshot(*, page: StatusPage, now: dt.datetime) -> PageSnapshot:
    """Return everything the public page shows, as of ``now``."""
    zone = page_zone(page)
    today = now.astimezone(zone).date()
    first_day = today - dt.timedelta(days=UPTIME_DAYS - 1)
    window_start = day_start(first_day, zone)
    past_start = now - dt.timedelta(days=PAST_DAYS)

    groups = {
        group.pk: group
        for group in ComponentGroup.objects.filter(page=page).only(
            "id", "name", "position"
        )
    }
    components = list(
        Component.objects.filter(page=page, is_active=True).only(
            "id", "name", "description", "group_id", "position"
        )
    )
    publications = [
        _as_public(p)
        for p in _public_publications(page).filter(
            Q(status__in=OPEN_STATUSES)
            | Q(ends_at__isnull=True)
            | Q(ends_at__gte=min(window_start, past_start))
        )
    ]

    current = [p for p in publications if is_current(p, now)]
    status_of = defaultdict(lambda: Impact.OPERATIONAL)
    for publication in current:
        for pk in publication.component_ids:
            status_of[pk] = worst([status_of[pk], publication.impact])
    timelines = _impact_timelines(publications, now=now)
    rows = {
        component.pk: _component_status(
            component,
            group=groups.get(component.group_id),
            status=status_of[component.pk],
            segments=timelines.get(component.pk, []),
            first_day=first_day,
            zone=zone,
            now=now,
        )
        for component in components
    }
    overall = worst([row.status for row in rows.values()] + [p.impact for p in current])
    starts = {p.id: p.starts_at or p.updates[-1].posted_at for p in publications}
    incidents = sorted(
        (p for p in publications if p.is_open and not p.is_maintenance),
        key=lambda p: starts[p.id],
        reverse=True,
    )
    maintenance = sorted(
        (p for p in publications if p.is_open and p.is_maintenance),
        key=lambda p: p.starts_at or p.updates[-1].posted_at,
    )
    past = sorted(
        (
            p
            for p in publications
            if not p.is_open and p.ends_at and p.ends_at >= past_start
        ),
        key=lambda p: p.ends_at,
        reverse=True,
    )
    valid_from, expires_at = _validity(
        publications, busy=bool(current), today=today, zone=zone, now=now
    )
    return PageSnapshot(
        status=overall,
        status_description=STATUS_DESCRIPTION[overall],
        blocks=_blocks(components, groups, rows),
        components=tuple(rows[c.pk] for c in _ordered(components, groups)),
        incidents=tuple(incidents),
        maintenance=tuple(maintenance),
        past=tuple(past),
        first_day=first_day,
        valid_from=valid_from,
        expires_at=expires_at,
    )


def _validity(publications, *, busy, today, zone, now):
    """Return when what the page shows started to hold and when it stops:
    at midnight the bars move on a day, and maintenance windows open and
    close on their own."""
    midnight = day_start(today, zone)
    next_midnight = day_start(today + dt.timedelta(days=1), zone)
    edges = [
        moment
        for p in publications
        if p.is_maintenance and p.is_open
        for moment in (p.starts_at, p.ends_at)
        if moment
    ]
    valid_from = max([midnight] + [e for e in edges if e <= now])
    expires_at = min([next_midnight] + [e for e in edges if e > now])
    if busy:
        valid_from = max(valid_from, now.replace(second=0, microsecond=0))
        expires_at = min(expires_at, now + BUSY_REFRESH)
    return valid_from, expires_at


def _ordered(components, groups):
    def key(component):
        group = groups.get(component.group_id)
        if group is None:
            return (component.position, 0, component.name, 0, "")
        return (group.position, 1, group.name, component.position, component.name)

    return sorted(components, key=key)


def _blocks(components, groups, rows) -> tuple[ComponentBlock, ...]:
    blocks: list[tuple[ComponentGroup | None, list[ComponentStatus]]] = []
    for component in _ordered(components, groups):
        group = groups.get(component.group_id)
        if blocks and blocks[-1][0] is group:
            blocks[-1][1].append(rows[component.pk])
        else:
            blocks.append((group, [rows[component.pk]]))
    result = []
    for group, members in blocks:
        status = worst(row.status for row in members)
        result.append(
            ComponentBlock(
                name=group.name if group else None,
                status=status,
                status_label=Impact(status).label,
                components=tuple(members),
            )
        )
    return tuple(result)


@dataclass
class _Segment:
    start: dt.datetime
    end: dt.datetime
    impact: str
    titles: list[str] = field(default_factory=list)


def _impact_timelines(publications, *, now) -> dict[int, list[_Segment]]:
    """Return, per component, when it was affected and how badly.

    An incident's posted update holds from its posting until the next one
    of the same publication (or until the publication ended, or now); a
    maintenance holds over its window, cut short when completed early and
    running on while still in progress.
    """
    spans: dict[int, list[_Segment]] = defaultdict(list)
    # Oldest first, so a day's titles read in the order things happened.
    for p in sorted(publications, key=lambda p: (p.updates[-1].posted_at, p.id)):
        if p.is_maintenance:
            if not (p.starts_at and p.ends_at):
                continue
            end = p.ends_at
            if p.status == PublicStatus.IN_PROGRESS:
                end = max(end, now)
            elif p.status == PublicStatus.COMPLETED:
                end = min(end, p.updates[0].posted_at)
            pieces = [(p.starts_at, end, p.impact, p.component_ids)]
        else:
            oldest_first = list(reversed(p.updates))
            closed_at = p.ends_at if not p.is_open and p.ends_at else now
            pieces = [
                (
                    update.posted_at,
                    oldest_first[n + 1].posted_at
                    if n + 1 < len(oldest_first)
                    else closed_at,
                    update.impact,
                    p.update_component_ids[n] or p.component_ids,
                )
                for n, update in enumerate(oldest_first)
            ]
        for start, end, impact, component_ids in pieces:
            end = min(end, now)
            if end <= start or impact == Impact.OPERATIONAL:
                continue
            for pk in component_ids:
                spans[pk].append(_Segment(start, end, impact, [p.title]))
    return {pk: _flatten(segments) for pk, segments in spans.items()}


def _flatten(segments: list[_Segment]) -> list[_Segment]:
    """Return non-overlapping segments, each with the worst impact of those
    covering it (two incidents at once are not twice the downtime)."""
    edges = sorted({s.start for s in segments} | {s.end for s in segments})
    flat = []
    for start, end in zip(edges, edges[1:], strict=False):
        covering = [s for s in segments if s.start <= start and s.end >= end]
        if covering:
            titles = list(dict.fromkeys(t for s in covering for t in s.titles))
            flat.append(_Segment(start, end, worst(s.impact for s in covering), titles))
    return flat


def _component_status(
    component, *, group, status, segments, first_day, zone, now
) -> ComponentStatus:
    per_day = defaultdict(lambda: defaultdict(dt.timedelta))
    titles = defaultdict(dict)
    down = 0.0
    window_start = day_start(first_day, zone)
    for segment in segments:
        start, end = max(segment.start, window_start), segment.end
        if end <= start:
            continue
        down += (end - start).total_seconds() * DOWNTIME_WEIGHT.get(segment.impact, 0.0)
        day = start.astimezone(zone).date()
        while start < end:
            next_day = day_start(day + dt.timedelta(days=1), zone)
            piece_end = min(end, next_day)
            per_day[day][segment.impact] += piece_end - start
            titles[day].update(dict.fromkeys(segment.titles))
            start, day = piece_end, day + dt.timedelta(days=1)
    days = []
    for n in range(UPTIME_DAYS):
        day = first_day + dt.timedelta(days=n)
        impacts = per_day.get(day, {})
        days.append(
            UptimeDay(
                date=day,
                impact=worst(impacts),
                text=_day_text(day, impacts, list(titles.get(day, {}))),
            )
        )
    total = (now - window_start).total_seconds()
    share = max(0.0, 1 - down / total) if total > 0 else 1.0
    return ComponentStatus(
        id=component.pk,
        name=component.name,
        description=component.description,
        group=group.name if group else None,
        status=status,
        status_label=Impact(status).label,
        days=tuple(days),
        uptime=f"{math.floor(share * 10000) / 100:.2f}",
    )


def _day_text(day: dt.date, impacts, titles: list[str]) -> str:
    label = f"{day:%a} {day.day} {day:%b %Y}"
    if not impacts:
        return f"{label}: no incidents"
    parts = [
        f"{Impact(impact).label.lower()} for {_duration(impacts[impact])}"
        for impact in sorted(impacts, key=IMPACT_ORDER.__getitem__, reverse=True)
    ]
    text = f"{label}: " + ", ".join(parts)
    if titles:
        text += " (" + "; ".join(titles) + ")"
    return text


def _duration(span: dt.timedelta) -> str:
    minutes = max(1, round(span.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"
