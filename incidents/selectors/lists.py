"""Lists of incidents: the list page's filters, search and sorting, and the
lists My work shows."""

import datetime as dt
import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import F, Q, QuerySet

from ..models import (
    Customer,
    Incident,
)
from ..models.incident import next_deadline
from ..sla import ClockState

REFERENCE_PATTERN = re.compile(r"^\s*(?:inc-?)?0*(\d{1,12})\s*$", re.IGNORECASE)


# The longest account id, name or e-mail address a customer can have.
CUSTOMER_TEXT_MAX_LENGTH = 254


# Up to this many matching customers, a search passes their ids as a list;
# past it, a subquery (see _search_q). Either way every match is found.
CUSTOMER_MATCH_LIMIT = 200


SORTS = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "priority": ("priority", "-created_at", "-id"),
    "resolution_due": ("resolution_due_at", "id"),
    "updated": ("-updated_at", "-id"),
}


@dataclass(frozen=True)
class IncidentFilters:
    status: str = ""
    priority: str = ""
    owner_id: int | None = None
    category_id: int | None = None
    sla_state: str = ""
    tag: str = ""
    search: str = ""
    sort: str = "newest"
    # Archived incidents (closed longer than their policy's archive delay)
    # are left out unless asked for.
    include_archived: bool = False


def _sla_state_q(state: str, now: dt.datetime) -> Q:
    # Resolving or closing stops every clock; a first response stops its own.
    resolution_running = Q(resolved_at__isnull=True, closed_at__isnull=True)
    response_running = Q(first_response_at__isnull=True) & resolution_running
    breached = (
        (response_running & Q(first_response_due_at__lt=now))
        | Q(first_response_at__gt=F("first_response_due_at"))
        | Q(first_response_at__isnull=True, resolved_at__gt=F("first_response_due_at"))
        | Q(
            first_response_at__isnull=True,
            resolved_at__isnull=True,
            closed_at__gt=F("first_response_due_at"),
        )
        | (resolution_running & Q(resolution_due_at__lt=now))
        | Q(resolved_at__gt=F("resolution_due_at"))
        | Q(resolved_at__isnull=True, closed_at__gt=F("resolution_due_at"))
    )
    at_risk = (
        response_running
        & Q(first_response_at_risk_at__lte=now, first_response_due_at__gte=now)
    ) | (
        resolution_running
        & Q(resolution_at_risk_at__lte=now, resolution_due_at__gte=now)
    )
    if state == ClockState.BREACHED:
        return breached
    if state == ClockState.AT_RISK:
        return at_risk & ~breached
    if state == ClockState.MET:
        return ~response_running & ~resolution_running & ~breached
    if state == ClockState.RUNNING:
        return (response_running | resolution_running) & ~breached & ~at_risk
    return Q()


def incident_rows() -> QuerySet:
    """Return all incidents with the columns a list row shows."""
    return Incident.objects.select_related(
        "customer", "category", "owner", "signal"
    ).only(
        "id",
        "title",
        "priority",
        "status",
        "is_systemic",
        "version",
        "created_at",
        "updated_at",
        "first_response_at",
        "resolved_at",
        "closed_at",
        "first_response_due_at",
        "first_response_at_risk_at",
        "resolution_due_at",
        "resolution_at_risk_at",
        "archived_at",
        "customer__name",
        "customer__email",
        "customer__is_vip",
        "customer__segment",
        "category__name",
        "owner__username",
        "owner__first_name",
        "owner__last_name",
        "signal__code",
    )


def incident_list(*, filters: IncidentFilters, now: dt.datetime) -> QuerySet:
    """Return incidents matching the list page's filters, ready to render."""
    incidents = incident_rows()
    reference = REFERENCE_PATTERN.match(filters.search) if filters.search else None
    # An incident's own number finds it even when archived.
    if not filters.include_archived and not reference:
        incidents = incidents.filter(archived_at__isnull=True)
    if filters.status == "open":
        incidents = incidents.filter(status__in=Incident.OPEN_STATUSES)
    elif filters.status:
        incidents = incidents.filter(status=filters.status)
    if filters.priority:
        incidents = incidents.filter(priority=filters.priority)
    if filters.owner_id == -1:
        incidents = incidents.filter(owner__isnull=True)
    elif filters.owner_id:
        incidents = incidents.filter(owner_id=filters.owner_id)
    if filters.tag:
        incidents = incidents.filter(tagged(filters.tag))
    if filters.category_id:
        incidents = incidents.filter(category_id=filters.category_id)
    if filters.sla_state:
        incidents = incidents.filter(_sla_state_q(filters.sla_state, now))
    if filters.search:
        incidents = incidents.filter(_search_q(filters.search))
    return incidents.order_by(*SORTS.get(filters.sort, SORTS["newest"]))


def _customers_matching_search(text: str) -> QuerySet:
    if "@" in text:
        customers = Customer.objects.filter(email__iexact=text)
    else:
        customers = Customer.objects.filter(
            Q(account_id=text) | Q(name__istartswith=text)
        )
    return customers.order_by()


def _search_q(text: str) -> Q:
    text = text.strip()
    match = REFERENCE_PATTERN.match(text)
    if match:
        return Q(pk=int(match.group(1)))
    # Every match counts, however common the name: the number of matching
    # customers only picks the plan. A few: pass their ids as a list, so the
    # database ORs the title's trigram index with the incident customer
    # index (a subquery there would walk every incident to find a rare
    # name). Many: a subquery on the trigram-indexed name, which the
    # database hashes once while it walks the newest-first index; the
    # matches are dense, so a page is found after a few hundred rows.
    customers = _customers_matching_search(text)
    customer_ids = list(
        customers.values_list("id", flat=True)[: CUSTOMER_MATCH_LIMIT + 1]
    )
    if len(customer_ids) <= CUSTOMER_MATCH_LIMIT:
        return Q(title__icontains=text) | Q(customer_id__in=customer_ids)
    return Q(title__icontains=text) | Q(customer_id__in=customers.values("id"))


# What a row that names an incident shows on the queues and My work: its
# reference, title, priority, status, people and clocks.
INCIDENT_ROW_FIELDS = frozenset(
    {
        "id",
        "title",
        "priority",
        "status",
        "category",
        "customer",
        "is_systemic",
        "owner",
        "policy",
        "version",
        "created_at",
        "first_response_at",
        "first_response_due_at",
        "first_response_at_risk_at",
        "resolution_due_at",
        "resolution_at_risk_at",
        "resolved_at",
        "closed_at",
        "archived_at",
    }
)


def incident_details_not_in_rows(path: str = "incident") -> list[str]:
    """Return, as defer() paths, the incident columns such a row never shows
    (28 of 47): fewer to compile, fetch and build for each row of a queue."""
    return [
        f"{path}__{field.name}"
        for field in Incident._meta.concrete_fields
        if field.name not in INCIDENT_ROW_FIELDS
    ]


# What My work shows of an incident, its clocks and the updates it owes: a
# row's columns and the names of its customer and category.
_MY_WORK_COLUMNS = (*sorted(INCIDENT_ROW_FIELDS), "customer__name", "category__name")


def incidents_owned_by(user, *, limit: int = 25) -> list[Incident]:
    """Return someone's open incidents, the nearest running deadline first."""
    # Filtered and ordered exactly as incident_owner_next_due_idx is built.
    return list(
        Incident.objects.filter(owner=user, status__in=Incident.UNRESOLVED_STATUSES)
        .select_related("customer", "category")
        .only(*_MY_WORK_COLUMNS)
        .annotate(next_deadline_at=next_deadline())
        .order_by("next_deadline_at", "id")[:limit]
    )


def unassigned_incidents(*, limit: int = 10) -> list[Incident]:
    """Return open incidents nobody owns yet, oldest deadline first."""
    return list(
        Incident.objects.filter(
            owner__isnull=True, status__in=Incident.UNRESOLVED_STATUSES
        )
        .only("title", "priority", "version")
        .order_by("resolution_due_at", "id")[:limit]
    )


def tagged(tag: str) -> Q:
    """Return a filter for incidents carrying ``tag``.

    PostgreSQL matches the JSON list exactly; SQLite has no JSON containment,
    so it matches the quoted tag in the stored text.
    """
    if connection.vendor == "postgresql":
        return Q(tags__contains=[tag])
    return Q(tags__icontains=f'"{tag}"')
