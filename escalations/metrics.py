"""The dashboard's figures, computed by the database.

Each function runs a fixed number of aggregate queries over the incidents
opened in a range, whatever the range holds: no incident rows come into
Python. A figure whose data does not exist yet (no surveys answered, no
escalations) shows as empty rather than as zero.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Min,
    Q,
    Sum,
)
from django.db.models.functions import TruncDate

from incidents import lifecycle
from incidents.models import (
    AffectedCustomer,
    Customer,
    Incident,
    Policy,
    SurveyResponse,
)

from .figures import BY_KEY
from .models import Escalation, EscalationStatus, MetricTarget, Path, Tier

BEYOND_TIER2 = (Tier.Tag.ENGINEERING, Tier.Tag.TRUST_SAFETY, Tier.Tag.CARRIER)

OPEN_ESCALATION = [
    EscalationStatus.REQUESTED,
    EscalationStatus.APPROVED,
    EscalationStatus.ACKNOWLEDGED,
]

PRIORITIES = ("P1", "P2", "P3", "P4")


@dataclass(frozen=True)
class Period:
    """Incidents opened from ``start`` (inclusive) to ``end`` (exclusive)."""

    start: dt.datetime
    end: dt.datetime
    policy: Policy | None = None
    now: dt.datetime | None = None

    def incidents(self):
        incidents = Incident.objects.filter(
            created_at__gte=self.start, created_at__lt=self.end
        )
        if self.policy is not None:
            incidents = incidents.filter(policy=self.policy)
        return incidents

    def escalations(self):
        """Escalations raised in the range, on incidents of the policy."""
        escalations = Escalation.objects.filter(
            created_at__gte=self.start, created_at__lt=self.end
        )
        if self.policy is not None:
            # A tier belongs to the policy of every incident escalated to it
            # (routing refuses another policy's tier), and the tiers table is
            # tiny: no join to 100,000 incidents just to read their policy.
            escalations = escalations.filter(to_tier__policy=self.policy)
        return escalations


@dataclass
class Row:
    figure: str
    value: Decimal | None
    priority: str = ""
    counted: int = 0  # how many incidents (or answers) the value stands on
    target: Decimal | None = None
    strict: bool = False  # "under 20%" rather than "at most 20%"
    drill: str = ""  # which incidents a click on "missed" lists ("" = none)
    missed: int = 0
    basis_drill: str = ""  # which incidents a click on "based on" lists

    @property
    def definition(self):
        return BY_KEY[self.figure]

    @property
    def verdict(self) -> str:
        """ "good", "bad" or "" (no target, no value, or no verdict)."""
        higher = self.definition.higher_is_better
        if self.value is None or self.target is None or higher is None:
            return ""
        if higher:
            passed = (
                self.value > self.target if self.strict else self.value >= self.target
            )
        else:
            passed = (
                self.value < self.target if self.strict else self.value <= self.target
            )
        return "good" if passed else "bad"

    @property
    def comparison(self) -> str:
        """How the value must compare with the target, as a sign."""
        higher = self.definition.higher_is_better
        if higher is None:
            return ""
        if higher:
            return ">" if self.strict else "≥"
        return "<" if self.strict else "≤"


@dataclass
class Dashboard:
    period: Period
    rows: list[Row]
    per_day: list[tuple[dt.date, int]] = field(default_factory=list)
    systemic: dict = field(default_factory=dict)
    satisfaction: dict = field(default_factory=dict)
    total: int = 0
    escalations: dict = field(default_factory=dict)
    # (Monday of the week, resolutions due, resolutions on time), by the week
    # the incidents were opened.
    sla_per_week: list[tuple[dt.date, int, int]] = field(default_factory=list)

    @property
    def has_targets(self) -> bool:
        return any(row.target is not None for row in self.rows)


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _hours(duration: dt.timedelta | None) -> Decimal | None:
    if duration is None:
        return None
    hours = Decimal(duration.total_seconds()) / 3600
    return hours.quantize(Decimal("0.01"), ROUND_HALF_UP)


def _since(later: str, earlier: str):
    return ExpressionWrapper(F(later) - F(earlier), output_field=DurationField())


def _conditions(now: dt.datetime) -> dict[str, Q]:
    """The incident filters the figures count, by the name drill links use."""
    first_response_due = Q(first_response_at__isnull=False) | Q(
        first_response_due_at__lte=now
    )
    first_response_met = Q(
        first_response_at__isnull=False,
        first_response_at__lte=F("first_response_due_at"),
    )
    resolution_due = Q(resolved_at__isnull=False) | Q(resolution_due_at__lte=now)
    resolution_met = Q(
        resolved_at__isnull=False, resolved_at__lte=F("resolution_due_at")
    )
    return {
        "first_response_due": first_response_due,
        "first_response_met": first_response_met,
        "first_response_missed": first_response_due & ~first_response_met,
        "resolution_due": resolution_due,
        "resolution_met": resolution_met,
        "resolution_missed": resolution_due & ~resolution_met,
        "breached": (first_response_due & ~first_response_met)
        | (resolution_due & ~resolution_met),
        "resolved": Q(resolved_at__isnull=False),
        "resolved_late": Q(resolved_at__isnull=False) & ~resolution_met,
    }


DRILL_LABELS = {
    "first_response_missed": "First responses late or still missing",
    "resolution_missed": "Resolutions late or overdue",
    "breached": "Incidents that breached a deadline",
    "resolved": "Resolved incidents",
    "resolved_late": "Resolved after the deadline",
    "first_response_due": "Incidents whose first response was due or given",
    "resolution_due": "Incidents whose resolution was due or done",
    "all": "Every incident opened in the range",
    "escalated": "Escalated incidents",
    "responded": "Incidents with a first response",
    "detect_known": "Incidents whose impact start is known",
    "resolved_after_tier2": "Resolved incidents that reached Tier 2",
}


def _drill_only() -> dict[str, Q]:
    """Filters only links use: the incidents an average or a rate stands on."""
    return {
        "all": Q(pk__isnull=False),
        "escalated": Q(pk__in=Escalation.objects.values("incident_id")),
        "responded": Q(first_response_at__isnull=False),
        "detect_known": Q(
            impact_started_at__isnull=False, impact_started_at__lte=F("detected_at")
        ),
        "resolved_after_tier2": Q(
            resolved_at__isnull=False,
            pk__in=Escalation.objects.filter(to_tier__tag=Tier.Tag.L2).values(
                "incident_id"
            ),
        ),
    }


def drill_condition(name: str, now: dt.datetime) -> Q | None:
    """The filter behind a figure's link, or None for an unknown name."""
    if name not in DRILL_LABELS:
        return None
    return {**_conditions(now), **_drill_only()}[name]


def _aggregates(now: dt.datetime) -> dict:
    """Counts and sums per priority; the overall figures add the rows up, so
    the incidents are scanned once."""
    conditions = _conditions(now)
    detect = Q(impact_started_at__isnull=False, impact_started_at__lte=F("detected_at"))
    responded = Q(first_response_at__isnull=False)
    systemic = Q(is_systemic=True)
    without_service = systemic & Q(
        resolved_at__isnull=False, impact_started_at__isnull=False
    )
    return {
        "total": Count("id"),
        **{
            name: Count("id", filter=condition)
            for name, condition in conditions.items()
        },
        "sum_detect": Sum(_since("detected_at", "impact_started_at"), filter=detect),
        "detect_known": Count("id", filter=detect),
        "responded": Count("id", filter=responded),
        "sum_first_response": Sum(
            _since("first_response_at", "created_at"), filter=responded
        ),
        "sum_resolution": Sum(
            _since("resolved_at", "created_at"), filter=Q(resolved_at__isnull=False)
        ),
        "sum_contacts": Sum("customer_contact_count"),
        # The carrier communication playbook's systemic impact (part 5A), in
        # the same scan of the period.
        "systemic": Count("id", filter=systemic),
        "systemic_sum_without_service": Sum(
            _since("resolved_at", "impact_started_at"), filter=without_service
        ),
        "systemic_without_service_known": Count("id", filter=without_service),
        "systemic_breaches": Count("id", filter=systemic & conditions["breached"]),
        # "Revenue impact where entered": the sum of what was entered, and on
        # how many incidents, so a partial figure says it is partial.
        "systemic_revenue": Sum("revenue_impact", filter=systemic),
        "systemic_revenue_entered": Count(
            "id", filter=systemic & Q(revenue_impact__isnull=False)
        ),
    }


def _escalated(period: Period) -> dict:
    """What the period's escalated incidents add up to, in one query.

    Read from the escalations' side: one row per escalated incident (a
    tenth of the incidents, or fewer), grouped with its tiers' tags, instead
    of every incident of the period probing lists of all escalations. Tiers
    are told apart by their tag: L2 / Tier 2 is the second line;
    engineering, trust & safety and the carrier are beyond it.
    """
    escalations = Escalation.objects.filter(
        incident__created_at__gte=period.start, incident__created_at__lt=period.end
    )
    if period.policy is not None:
        escalations = escalations.filter(incident__policy=period.policy)
    per_incident = (
        escalations.order_by()
        .values("incident_id", "incident__created_at", "incident__resolved_at")
        .annotate(
            first_escalated_at=Min("created_at"),
            past_tier1=Count("id", filter=~Q(to_tier__tag="")),
            reached_tier2=Count("id", filter=Q(to_tier__tag=Tier.Tag.L2)),
            past_tier2=Count("id", filter=Q(to_tier__tag__in=BEYOND_TIER2)),
        )
    )
    resolved = Q(incident__resolved_at__isnull=False)
    tier2 = resolved & Q(reached_tier2__gt=0)
    return per_incident.aggregate(
        escalated=Count("incident_id"),
        resolved_escalated=Count("incident_id", filter=resolved),
        resolved_past_tier1=Count("incident_id", filter=resolved & Q(past_tier1__gt=0)),
        resolved_after_tier2=Count("incident_id", filter=tier2),
        resolved_at_tier2=Count("incident_id", filter=tier2 & Q(past_tier2=0)),
        avg_to_escalation=Avg(_since("first_escalated_at", "incident__created_at")),
    )


def _added_up(rows: list[dict]) -> dict:
    """The overall row: counts and sums of the per-priority rows, averages
    from them."""
    overall: dict = {}
    for row in rows:
        for key, value in row.items():
            if key == "priority" or value is None:
                continue
            overall[key] = overall[key] + value if key in overall else value

    def average(total_key, count_key):
        total, count = overall.get(total_key), overall.get(count_key, 0)
        return total / count if total is not None and count else None

    overall.setdefault("total", 0)
    for name in _conditions(dt.datetime.now(dt.UTC)):
        overall.setdefault(name, 0)
    for key in (
        "detect_known",
        "responded",
        "systemic",
        "systemic_without_service_known",
        "systemic_breaches",
        "systemic_revenue_entered",
    ):
        overall.setdefault(key, 0)
    overall["avg_detect"] = average("sum_detect", "detect_known")
    overall["avg_first_response"] = average("sum_first_response", "responded")
    overall["avg_resolution"] = average("sum_resolution", "resolved")
    overall["avg_contacts"] = average("sum_contacts", "total")
    return overall


def _targets(policy: Policy | None) -> dict[tuple[str, str], tuple[Decimal, bool]]:
    """The policy's targets, each with whether it is strict; across policies
    there is no one target to meet."""
    if policy is None:
        return {}
    return {
        (target.figure, target.priority): (target.target, target.is_strict)
        for target in MetricTarget.objects.filter(policy=policy)
    }


def dashboard(period: Period) -> Dashboard:
    """Every figure for the period, against the policy's targets."""
    now = period.now
    incidents = period.incidents()
    by_priority = {
        row["priority"]: row
        for row in incidents.order_by().values("priority").annotate(**_aggregates(now))
    }
    overall = _added_up(list(by_priority.values()))
    escalated = _escalated(period)
    overall["escalated"] = escalated["escalated"]
    resolved = overall["resolved"]
    overall["resolved_first_contact"] = resolved - escalated["resolved_escalated"]
    overall["resolved_at_tier1"] = resolved - escalated["resolved_past_tier1"]
    overall["resolved_after_tier2"] = escalated["resolved_after_tier2"]
    overall["resolved_at_tier2"] = escalated["resolved_at_tier2"]
    targets = _targets(period.policy)
    rows: list[Row] = []

    def add(
        figure, value, *, priority="", counted=0, drill="", missed=0, basis_drill=""
    ):
        rows.append(
            Row(
                figure=figure,
                value=value,
                priority=priority,
                counted=counted,
                target=targets.get((figure, priority), (None, False))[0],
                strict=targets.get((figure, priority), (None, False))[1],
                drill=drill,
                missed=missed,
                basis_drill=basis_drill,
            )
        )

    for figure, due, met, missed in (
        (
            "first_response_compliance",
            "first_response_due",
            "first_response_met",
            "first_response_missed",
        ),
        (
            "resolution_compliance",
            "resolution_due",
            "resolution_met",
            "resolution_missed",
        ),
    ):
        add(
            figure,
            _percent(overall[met], overall[due]),
            counted=overall[due],
            drill=missed,
            missed=overall[missed],
            basis_drill=due,
        )
        for priority in PRIORITIES:
            data = by_priority.get(priority)
            if data is None:
                add(figure, None, priority=priority, drill=missed)
                continue
            add(
                figure,
                _percent(data[met], data[due]),
                priority=priority,
                counted=data[due],
                drill=missed,
                missed=data[missed],
                basis_drill=due,
            )
    add(
        "sla_compliance",
        _percent(overall["resolution_met"], resolved),
        counted=resolved,
        drill="resolved_late",
        missed=overall["resolved_late"],
        basis_drill="resolved",
    )
    total = overall["total"]
    add(
        "escalation_rate",
        _percent(overall["escalated"], total),
        counted=total,
        drill="escalated",
        missed=overall["escalated"],
        basis_drill="all",
    )
    add(
        "first_contact_resolution",
        _percent(overall["resolved_first_contact"], resolved),
        counted=resolved,
        basis_drill="resolved",
    )
    add(
        "tier1_resolution_rate",
        _percent(overall["resolved_at_tier1"], resolved),
        counted=resolved,
        basis_drill="resolved",
    )
    add(
        "tier2_resolution_rate",
        _percent(overall["resolved_at_tier2"], overall["resolved_after_tier2"]),
        counted=overall["resolved_after_tier2"],
        basis_drill="resolved_after_tier2",
    )
    add(
        "avg_hours_to_escalation",
        _hours(escalated["avg_to_escalation"]),
        counted=overall["escalated"],
        basis_drill="escalated",
    )
    satisfaction = _satisfaction(period)
    add(
        "csat",
        satisfaction["score"],
        counted=satisfaction["answers"],
    )
    add(
        "avg_hours_to_detect",
        _hours(overall["avg_detect"]),
        counted=overall["detect_known"],
        basis_drill="detect_known",
    )
    add(
        "avg_hours_to_first_response",
        _hours(overall["avg_first_response"]),
        counted=overall["responded"],
        basis_drill="responded",
    )
    add(
        "avg_hours_to_resolution",
        _hours(overall["avg_resolution"]),
        counted=resolved,
        basis_drill="resolved",
    )
    contacts = overall["avg_contacts"]
    add(
        "avg_customer_contacts",
        None
        if contacts is None
        else Decimal(contacts).quantize(Decimal("0.1"), ROUND_HALF_UP),
        counted=overall["total"],
        basis_drill="all",
    )
    add(
        "sla_breaches",
        Decimal(overall["breached"]),
        counted=overall["total"],
        drill="breached",
        missed=overall["breached"],
        basis_drill="all",
    )
    return Dashboard(
        period=period,
        rows=rows,
        per_day=_per_day(period),
        systemic=_systemic(period, overall),
        satisfaction=satisfaction,
        total=overall["total"],
        escalations=_escalation_board(period),
        sla_per_week=_sla_per_week(period),
    )


def _sla_per_week(period: Period) -> list[tuple[dt.date, int, int]]:
    """Resolution deadlines due and met, by the week the incidents opened."""
    conditions = _conditions(period.now)
    weeks: dict[dt.date, list[int]] = {}
    for row in (
        period.incidents()
        .order_by()
        .annotate(day=TruncDate("created_at", tzinfo=period.start.tzinfo))
        .values("day")
        .annotate(
            due=Count("id", filter=conditions["resolution_due"]),
            met=Count("id", filter=conditions["resolution_met"]),
        )
    ):
        week = weeks.setdefault(
            row["day"] - dt.timedelta(days=row["day"].weekday()), [0, 0]
        )
        week[0] += row["due"]
        week[1] += row["met"]
    return [(week, due, met) for week, (due, met) in sorted(weeks.items())]


def _per_day(period: Period) -> list[tuple[dt.date, int]]:
    """Incidents opened on each day of the range, quiet days included."""
    zone = period.start.tzinfo
    counts = {
        row["day"]: row["count"]
        for row in period.incidents()
        .order_by()
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day")
        .annotate(count=Count("id"))
    }
    first, last = period.start.date(), (period.end - dt.timedelta(seconds=1)).date()
    days = (last - first).days + 1
    return [
        (day, counts.get(day, 0))
        for day in (first + dt.timedelta(days=n) for n in range(days))
    ]


def _satisfaction(period: Period) -> dict:
    answers = SurveyResponse.objects.filter(
        answered_at__gte=period.start, answered_at__lt=period.end
    )
    if period.policy is not None:
        answers = answers.filter(incident__policy=period.policy)
    averages = answers.aggregate(
        answers=Count("id"),
        unhappy=Count("id", filter=Q(score__lte=2)),
        **{
            f"avg_{name}": Avg(field)
            for name, field in (
                ("score", "score"),
                ("communication", "communication_score"),
                ("response_time", "response_time_score"),
                ("resolution", "resolution_score"),
                ("handling", "handling_score"),
            )
        },
    )
    data = {"answers": averages["answers"], "unhappy": averages["unhappy"]}
    for name in ("score", "communication", "response_time", "resolution", "handling"):
        value = averages[f"avg_{name}"]
        data[name] = (
            None
            if value is None
            else Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP)
        )
    return data


def _systemic(period: Period, overall: dict) -> dict:
    """The impact summary over the systemic incidents of the period.

    From the carrier communication playbook, part 5A.
    """
    known = overall["systemic_without_service_known"]
    total = overall.get("systemic_sum_without_service")
    return {
        "incidents": overall["systemic"],
        "customers": AffectedCustomer.objects.filter(
            incident__in=period.incidents().filter(is_systemic=True).values("pk")
        ).count(),
        "without_service": _hours(total / known)
        if total is not None and known
        else None,
        "breaches": overall["systemic_breaches"],
        "revenue": overall.get("systemic_revenue"),
        "revenue_entered": overall["systemic_revenue_entered"],
    }


def _escalation_board(period: Period) -> dict:
    """The escalation dashboard: what is open now, and what the range held.

    From the fleet escalation playbook.
    """
    open_now = Escalation.objects.filter(
        status__in=OPEN_ESCALATION,
        incident__status__in=lifecycle.runs_while("escalations"),
    )
    if period.policy is not None:
        open_now = open_now.filter(to_tier__policy=period.policy)
    raised = period.escalations()
    by_tier = [
        {
            **row,
            "resolved_rate": _percent(
                row["resolved"], row["resolved"] + row["returned"]
            ),
            "avg_hours": _hours(row["avg_resolution"]),
        }
        for row in raised.order_by()
        .values("to_tier__name", "to_tier__policy__name")
        .annotate(
            count=Count("id"),
            resolved=Count("id", filter=Q(status=EscalationStatus.RESOLVED)),
            returned=Count("id", filter=Q(status=EscalationStatus.RETURNED)),
            avg_resolution=Avg(
                _since("closed_at", "created_at"),
                filter=Q(status=EscalationStatus.RESOLVED, closed_at__isnull=False),
            ),
        )
        .order_by("-count", "to_tier__name")[:20]
    ]
    labels = dict(Path.choices)
    reasons = [
        {"reason": labels.get(row["path"], row["path"]), "count": row["count"]}
        for row in raised.order_by()
        .values("path")
        .annotate(count=Count("id"))
        .order_by("-count", "path")[:5]
    ]
    # Grouped by the customer's id, named afterwards: joining every
    # escalation to its customer's row only to group by name cost more than
    # the rest of the board.
    repeat = list(
        Incident.objects.filter(
            pk__in=raised.values("incident_id"), customer__isnull=False
        )
        .order_by()
        .values("customer_id")
        .annotate(incidents=Count("id"))
        .filter(incidents__gt=1)
        .order_by("-incidents", "customer_id")[:10]
    )
    names = Customer.objects.in_bulk([row["customer_id"] for row in repeat])
    repeat_customers = [
        {
            "incident__customer__name": names[row["customer_id"]].name,
            "incidents": row["incidents"],
        }
        for row in repeat
    ]
    per_day = list(
        raised.order_by()
        .annotate(day=TruncDate("created_at", tzinfo=period.start.tzinfo))
        .values("day")
        .annotate(count=Count("id"))
        .order_by("day")
    )
    return {
        "open_by_priority": list(
            open_now.order_by()
            .values("incident__priority")
            .annotate(count=Count("id"))
            .order_by("incident__priority")
        ),
        "raised": sum(row["count"] for row in per_day),
        "per_day": per_day,
        "per_week": _sum_by(
            per_day, lambda day: day - dt.timedelta(days=day.weekday())
        ),
        "per_month": _sum_by(per_day, lambda day: day.replace(day=1)),
        "by_tier": by_tier,
        "reasons": reasons,
        "repeat_customers": repeat_customers,
    }


def _sum_by(per_day: list[dict], bucket) -> list[tuple[dt.date, int]]:
    sums: dict[dt.date, int] = {}
    for row in per_day:
        key = bucket(row["day"])
        sums[key] = sums.get(key, 0) + row["count"]
    return sorted(sums.items())
