"""Reads of incidents that pages and tasks share."""

import datetime as dt
import re
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Case, Exists, F, OuterRef, Prefetch, Q, QuerySet, When
from django.db.models.functions import Least

from . import security
from .models import (
    ActionItem,
    AffectedCustomer,
    ChecklistTemplate,
    CommunicationPlan,
    CommunicationPlanRow,
    Customer,
    Incident,
    IncidentChecklist,
    IncidentChecklistItem,
    JourneyMilestone,
    PostMortem,
    PostMortemTimelineRow,
    SecurityChecklistItem,
    SecurityNotification,
    SecurityResponse,
    Signal,
    SurveyResponse,
    TimelineEvent,
)
from .sla import ClockState, clock_state

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


# Columns of related rows the incident page never shows. Deferred by name
# rather than listing the shown ones, so a field added later still loads.
_USER_COLUMNS_NOT_SHOWN = (
    "password",
    "last_login",
    "is_superuser",
    "email",
    "is_staff",
    "is_active",
    "date_joined",
)
_DETAIL_DEFERRED = (
    *(f"owner__{name}" for name in _USER_COLUMNS_NOT_SHOWN),
    *(f"created_by__{name}" for name in _USER_COLUMNS_NOT_SHOWN),
    "customer__customer_since_on",
    "customer__policy",
    "customer__created_at",
    "customer__updated_at",
    "category__is_active",
    "category__position",
    "policy__description",
    "policy__is_default",
    "policy__calendar",
    "policy__enterprise_response_factor",
    "policy__standard_response_factor",
    "policy__trial_response_factor",
    "policy__at_risk_minutes",
    "policy__created_at",
    "policy__updated_at",
)


def incident_detail(*, pk: int) -> Incident:
    """Return one incident with the related rows its page shows."""
    # The signal comes in a query of its own: joined as a seventh table it
    # made PostgreSQL spend several times longer planning the query than
    # running it (7 ms against 0.4 ms), on every page view.
    incident = (
        Incident.objects.select_related(
            "customer", "category", "owner", "created_by", "policy"
        )
        .defer(*_DETAIL_DEFERRED)
        .get(pk=pk)
    )
    if incident.signal_id is not None:
        incident.signal = Signal.objects.get(pk=incident.signal_id)
    # Likewise the customer's success manager, which few customers have.
    customer = incident.customer
    if customer is not None and customer.success_manager_id is not None:
        customer.success_manager = get_user_model().objects.get(
            pk=customer.success_manager_id
        )
    return incident


@dataclass(frozen=True)
class IncidentHistory:
    timeline: list[TimelineEvent]
    actions: list[ActionItem]
    milestones: list[JourneyMilestone]
    affected: list[AffectedCustomer]


def incident_history(incident: Incident) -> IncidentHistory:
    """Return the rows the incident page lists, one plain query each.

    Plain filtered queries rather than prefetch_related: for one incident
    the prefetch machinery cost more Python than the queries themselves.
    """
    timeline = TimelineEvent.objects.filter(incident=incident).select_related("actor")
    # Only a systemic incident lists affected customers.
    affected = (
        list(
            AffectedCustomer.objects.filter(incident=incident).select_related(
                "customer"
            )
        )
        if incident.is_systemic
        else []
    )
    return IncidentHistory(
        timeline=list(
            timeline.defer(*(f"actor__{name}" for name in _USER_COLUMNS_NOT_SHOWN))
        ),
        actions=list(ActionItem.objects.filter(incident=incident)),
        milestones=list(JourneyMilestone.objects.filter(incident=incident)),
        affected=affected,
    )


def incident_clocks(incident: Incident, now: dt.datetime) -> dict[str, ClockState]:
    """Return the state of the first-response and resolution clocks."""
    return {
        "first_response": clock_state(
            due_at=incident.first_response_due_at,
            at_risk_at=incident.first_response_at_risk_at,
            # An incident resolved without a recorded reply stops this clock
            # too: a resolved incident shows no running clock.
            stopped_at=incident.first_response_at
            or incident.resolved_at
            or incident.closed_at,
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
    """Return customers whose account id or e-mail starts with ``text``, or
    whose name contains it; exact matches first, then name prefixes."""
    text = text.strip()
    # PostgreSQL cannot take a NUL character in a query parameter, and no
    # customer field is longer than an e-mail address (SQLite refuses a LIKE
    # pattern of 50,000 characters).
    if not 2 <= len(text) <= CUSTOMER_TEXT_MAX_LENGTH or "\x00" in text:
        return Customer.objects.none()
    # A surname ("Becker") is found inside the name; the trigram index on
    # UPPER(name) serves icontains as well as istartswith.
    return (
        Customer.objects.filter(
            Q(account_id__istartswith=text)
            | Q(email__istartswith=text)
            | Q(name__icontains=text)
        )
        .annotate(
            rank=Case(
                When(
                    Q(account_id__iexact=text)
                    | Q(email__iexact=text)
                    | Q(name__iexact=text),
                    then=0,
                ),
                When(Q(name__istartswith=text), then=1),
                default=2,
            )
        )
        .only("id", "name", "email", "account_id", "segment", "is_vip")
        .order_by("rank", "name", "id")[:limit]
    )


# An ambiguous name lists at most this many of the customers it could be.
AMBIGUOUS_LISTED = 5


def customers_named_exactly(text: str) -> list[Customer]:
    """Return the customers ``text`` names exactly, as typed in a customer box.

    An account id names one customer. Otherwise a full e-mail, or else a
    full name (case aside), names every customer that has it; a few more
    than are listed are returned so the caller can say "and more".
    """
    text = text.strip()
    if not text or "\x00" in text:
        return []
    by_account = Customer.objects.filter(account_id=text).first()
    if by_account is not None:
        return [by_account]
    field = "email__iexact" if "@" in text else "name__iexact"
    return list(
        Customer.objects.filter(**{field: text}).order_by("name", "account_id")[
            : AMBIGUOUS_LISTED + 1
        ]
    )


def assignable_staff() -> QuerySet:
    """Return the people an incident can be given to."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .only("id", "username", "first_name", "last_name")
        .order_by("first_name", "last_name", "username")
    )


def assignable_staff_choices() -> list[tuple[int, str]]:
    """Return (id, name) of the people an incident can be given to, for a select."""
    return [
        (pk, f"{first} {last}".strip() or username)
        for pk, username, first, last in assignable_staff().values_list(
            "id", "username", "first_name", "last_name"
        )
    ]


def incidents_owned_by(user, *, limit: int = 25) -> list[Incident]:
    """Return someone's open incidents, the nearest running deadline first."""
    running = Incident.objects.filter(
        owner=user, status__in=Incident.OPEN_STATUSES
    ).exclude(status=Incident.Status.RESOLVED)
    next_deadline = Case(
        When(
            first_response_at__isnull=True,
            then=Least("first_response_due_at", "resolution_due_at"),
        ),
        default=F("resolution_due_at"),
    )
    return list(
        running.select_related("customer", "category")
        .annotate(next_deadline_at=next_deadline)
        .order_by("next_deadline_at", "id")[:limit]
    )


def unassigned_incidents(*, limit: int = 10) -> list[Incident]:
    """Return open incidents nobody owns yet, oldest deadline first."""
    return list(
        Incident.objects.filter(owner__isnull=True, status__in=Incident.OPEN_STATUSES)
        .exclude(status=Incident.Status.RESOLVED)
        .select_related("customer", "category")
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


def incidents_newly_stuck(now: dt.datetime, *, stuck_for: dt.timedelta) -> QuerySet:
    """Return open incidents stuck longer than ``stuck_for`` not yet tagged so."""
    return (
        Incident.objects.filter(
            status__in=Incident.OPEN_STATUSES, created_at__lte=now - stuck_for
        )
        .exclude(status=Incident.Status.RESOLVED)
        .exclude(tagged("slo_at_risk"))
        .select_related("category", "signal")
    )


# ---------------------------------------------------------------------------
# Closure checklists and the archive (issue 13, part A)
# ---------------------------------------------------------------------------

# Checklist conditions the sweep can test in SQL, for checklists that attach
# before resolving (e.g. the escalation checklist).
_CONDITION_EVENT_KINDS = {
    "credit_requested": ["credit_requested"],
    "escalated": ["escalation_requested", "escalation_triggered"],
    "security": ["security_flagged"],
}
_CONDITION_FIELDS = {
    "always": Q(),
    "partner_involved": Q(is_partner_action_needed=True),
    "vendor_involved": Q(is_vendor_action_needed=True),
    "major": Q(priority__in=["P1", "P2"]) | Q(is_systemic=True),
    "financial_impact": Q(amount_paid__gt=0),
}


def incidents_due_for_archive(cutoff: dt.datetime, *, policy_id: int) -> QuerySet:
    """Return closed incidents of one policy, closed before ``cutoff``, not archived."""
    return Incident.objects.filter(
        policy_id=policy_id,
        archived_at__isnull=True,
        closed_at__isnull=False,
        closed_at__lte=cutoff,
    ).order_by("closed_at", "id")


def incidents_with_checklist_work(*, limit: int = 200) -> list[int]:
    """Return ids of incidents whose checklists the sweep should refresh.

    Resolved incidents with an open item that evidence may tick (time
    passing, a message sent since), and open incidents whose events now
    call for a checklist that attaches before resolving.
    """
    waiting_items = IncidentChecklistItem.objects.filter(
        checklist__incident=OuterRef("pk"), state="open"
    ).exclude(evidence="none")
    ids = list(
        Incident.objects.filter(
            Exists(waiting_items),
            status=Incident.Status.RESOLVED,
            archived_at__isnull=True,
        )
        .order_by("resolved_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    early = ChecklistTemplate.objects.filter(
        is_active=True, attaches_on_resolve=False
    ).only("pk", "policy_id", "condition")
    for template in early:
        if template.condition in _CONDITION_EVENT_KINDS:
            holds = Exists(
                TimelineEvent.objects.filter(
                    incident=OuterRef("pk"),
                    kind__in=_CONDITION_EVENT_KINDS[template.condition],
                )
            )
        elif template.condition in _CONDITION_FIELDS:
            holds = _CONDITION_FIELDS[template.condition]
        else:
            continue
        candidates = Incident.objects.filter(
            holds,
            ~Exists(
                IncidentChecklist.objects.filter(
                    incident=OuterRef("pk"), template_id=template.pk
                )
            ),
            status__in=Incident.OPEN_STATUSES,
            archived_at__isnull=True,
        )
        if template.policy_id is not None:
            candidates = candidates.filter(policy_id=template.policy_id)
        ids += list(candidates.order_by().values_list("pk", flat=True)[:limit])
    return list(dict.fromkeys(ids))[:limit]


def incident_closure(incident: Incident) -> list:
    """Return the incident's checklists with their items, ready to show."""
    return list(
        IncidentChecklist.objects.filter(incident=incident).prefetch_related(
            Prefetch(
                "items",
                queryset=IncidentChecklistItem.objects.select_related(
                    "settled_by"
                ).order_by("position", "id"),
            )
        )
    )


def incident_key_metrics(incident: Incident, now: dt.datetime) -> dict:
    """000 5A's per-incident figures: how fast we saw, answered and fixed it.

    Each is a timedelta, or None while it has not happened; SLA met is None
    while a clock still runs.
    """

    def between(start, end):
        if start is None or end is None:
            return None
        return max(end - start, dt.timedelta(0))

    clocks = incident_clocks(incident, now)
    if "breached" in clocks.values():
        sla_met = False
    elif incident.resolved_at or incident.closed_at:
        sla_met = True
    else:
        sla_met = None
    return {
        "time_to_detect": between(incident.impact_started_at, incident.detected_at),
        "time_to_first_response": between(
            incident.created_at, incident.first_response_at
        ),
        "time_to_resolution": between(incident.created_at, incident.resolved_at),
        "contacts": incident.customer_contact_count,
        "sla_met": sla_met,
    }


# --- Post-mortems (issue 13 part B) ------------------------------------------


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


def postmortem_page(*, incident_id: int) -> PostMortemPage:
    """Return a post-mortem with its timeline rows and action items."""
    postmortem = PostMortem.objects.select_related(
        "incident", "incident__customer", "incident__category", "published_by"
    ).get(incident_id=incident_id)
    return PostMortemPage(
        postmortem=postmortem,
        rows=list(postmortem.timeline_rows.all()),
        actions=list(postmortem.action_items.select_related("owner")),
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


# --- Communication plans (issue 13 part B) -----------------------------------


def communication_plan_page(*, incident_id: int) -> tuple:
    """Return a plan and its sections, each with its rows (three queries)."""
    plan = CommunicationPlan.objects.select_related(
        "incident", "owner", "approved_by", "submitted_by", "created_by"
    ).get(incident_id=incident_id)
    sections = list(plan.sections.all())
    rows: dict[int, list] = {s.pk: [] for s in sections}
    for row in CommunicationPlanRow.objects.filter(section__plan=plan):
        rows[row.section_id].append(row)
    return plan, [(section, rows[section.pk]) for section in sections]


# --- Security incident response (issue 13 part B) ----------------------------


@dataclass(frozen=True)
class SecurityPage:
    response: SecurityResponse
    phases: list  # (phase, clock state or None, items)
    notifications: list[SecurityNotification]
    clocks: list  # (clock, clock state or None)


def security_clock_state(
    *,
    starts_at: dt.datetime,
    due_at: dt.datetime | None,
    done_at: dt.datetime | None,
    now: dt.datetime,
) -> ClockState | None:
    """Return where a security phase or regulatory deadline stands, like SLAs.

    None when the deadline is not fixed (the law says "without delay").
    """
    if due_at is None:
        return None
    return clock_state(
        due_at=due_at,
        at_risk_at=security.at_risk_at(starts_at, due_at),
        stopped_at=done_at,
        now=now,
    )


def security_page(*, incident_id: int, now: dt.datetime) -> SecurityPage:
    """Return an incident's security response with its phases and clocks."""
    response = SecurityResponse.objects.select_related(
        "incident", "legal_recorded_by", "flagged_by"
    ).get(incident_id=incident_id)
    phases = list(response.phases.select_related("done_by"))
    items: dict[int, list] = {p.pk: [] for p in phases}
    for item in SecurityChecklistItem.objects.filter(
        phase__response=response
    ).select_related("done_by"):
        items[item.phase_id].append(item)
    return SecurityPage(
        response=response,
        phases=[
            (
                phase,
                security_clock_state(
                    starts_at=response.detected_at,
                    due_at=phase.due_at,
                    done_at=phase.done_at,
                    now=now,
                ),
                items[phase.pk],
            )
            for phase in phases
        ],
        notifications=list(response.notifications.select_related("notified_by")),
        clocks=[
            (
                clock,
                security_clock_state(
                    starts_at=clock.started_at,
                    due_at=clock.due_at,
                    done_at=clock.notified_at,
                    now=now,
                ),
            )
            for clock in response.regulatory_clocks.select_related(
                "regime", "notified_by"
            )
        ],
    )


def security_notice_cleared(incident: Incident) -> bool:
    """Return whether Legal approved a customer security notice for it."""
    return SecurityResponse.objects.filter(
        incident=incident, legal_approved_at__isnull=False
    ).exists()


def survey_answered(*, incident_id: int, customer_id: int) -> bool:
    """Whether this customer already answered this incident's survey."""
    return SurveyResponse.objects.filter(
        incident_id=incident_id, customer_id=customer_id
    ).exists()
