"""Reads of incidents that pages and tasks share."""

import datetime as dt
import re
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import F, Prefetch, Q, QuerySet

from .models import AffectedCustomer, Customer, Incident, TimelineEvent
from .sla import ClockState, clock_state

REFERENCE_PATTERN = re.compile(r"^\s*(?:inc-?)?0*(\d{1,12})\s*$", re.IGNORECASE)

# The longest account id, name or e-mail address a customer can have.
CUSTOMER_TEXT_MAX_LENGTH = 254
# A search for a very common name looks at this many customers at most.
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
    search: str = ""
    sort: str = "newest"


def _sla_state_q(state: str, now: dt.datetime) -> Q:
    response_running = Q(first_response_at__isnull=True)
    resolution_running = Q(resolved_at__isnull=True, closed_at__isnull=True)
    breached = (
        (response_running & Q(first_response_due_at__lt=now))
        | Q(first_response_at__gt=F("first_response_due_at"))
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


def incident_list(*, filters: IncidentFilters, now: dt.datetime) -> QuerySet:
    """Return incidents matching the list page's filters, ready to render."""
    incidents = Incident.objects.select_related(
        "customer", "category", "owner", "signal"
    ).only(
        "id",
        "title",
        "priority",
        "status",
        "is_systemic",
        "created_at",
        "updated_at",
        "first_response_at",
        "resolved_at",
        "closed_at",
        "first_response_due_at",
        "first_response_at_risk_at",
        "resolution_due_at",
        "resolution_at_risk_at",
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
    if filters.category_id:
        incidents = incidents.filter(category_id=filters.category_id)
    if filters.sla_state:
        incidents = incidents.filter(_sla_state_q(filters.sla_state, now))
    if filters.search:
        incidents = incidents.filter(_search_q(filters.search))
    return incidents.order_by(*SORTS.get(filters.sort, SORTS["newest"]))


def _search_q(text: str) -> Q:
    text = text.strip()
    match = REFERENCE_PATTERN.match(text)
    if match:
        return Q(pk=int(match.group(1)))
    # Look the customers up first and pass their ids as a list: with a list,
    # the database ORs the title's trigram index with the customer index; with
    # a subquery it falls back to scanning every incident.
    if "@" in text:
        customers = Customer.objects.filter(email__iexact=text)
    else:
        customers = Customer.objects.filter(
            Q(account_id=text) | Q(name__istartswith=text)
        )
    customer_ids = list(customers.values_list("id", flat=True)[:CUSTOMER_MATCH_LIMIT])
    return Q(title__icontains=text) | Q(customer_id__in=customer_ids)


def incident_detail(*, pk: int) -> Incident:
    """Return one incident with everything its page shows, in fixed queries."""
    return (
        Incident.objects.select_related(
            "customer", "category", "owner", "created_by", "signal", "policy"
        )
        .prefetch_related(
            Prefetch(
                "timeline_events",
                queryset=TimelineEvent.objects.select_related("actor"),
            ),
            "action_items",
            "journey_milestones",
            Prefetch(
                "affected_customers",
                queryset=AffectedCustomer.objects.select_related("customer"),
            ),
        )
        .get(pk=pk)
    )


def incident_clocks(incident: Incident, now: dt.datetime) -> dict[str, ClockState]:
    """Return the state of the first-response and resolution clocks."""
    return {
        "first_response": clock_state(
            due_at=incident.first_response_due_at,
            at_risk_at=incident.first_response_at_risk_at,
            stopped_at=incident.first_response_at,
            now=now,
        ),
        "resolution": clock_state(
            due_at=incident.resolution_due_at,
            at_risk_at=incident.resolution_at_risk_at,
            stopped_at=incident.resolved_at or incident.closed_at,
            now=now,
        ),
    }


SEVERITY_ORDER = [
    ClockState.BREACHED,
    ClockState.AT_RISK,
    ClockState.RUNNING,
    ClockState.MET,
]


def overall_clock_state(clocks: dict[str, ClockState]) -> ClockState:
    """Return the worst of an incident's clocks."""
    return min(clocks.values(), key=SEVERITY_ORDER.index)


def customers_matching(text: str, *, limit: int = 10) -> QuerySet:
    """Return customers whose account id, e-mail or name starts with ``text``."""
    text = text.strip()
    # PostgreSQL cannot take a NUL character in a query parameter, and no
    # customer field is longer than an e-mail address (SQLite refuses a LIKE
    # pattern of 50,000 characters).
    if not 2 <= len(text) <= CUSTOMER_TEXT_MAX_LENGTH or "\x00" in text:
        return Customer.objects.none()
    return (
        Customer.objects.filter(
            Q(account_id__istartswith=text)
            | Q(email__istartswith=text)
            | Q(name__istartswith=text)
        )
        .only("id", "name", "email", "account_id", "segment", "is_vip")
        .order_by("name", "id")[:limit]
    )


def assignable_staff() -> QuerySet:
    """Return the people an incident can be given to."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .only("id", "username", "first_name", "last_name")
        .order_by("first_name", "last_name", "username")
    )
