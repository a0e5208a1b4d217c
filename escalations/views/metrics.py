"""The metrics dashboard, the incidents behind each figure, and reviews."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents import selectors as incident_selectors
from incidents.pagination import CappedCountPaginator
from portal.actions import post_action
from portal.exports import csv_export

from .. import metrics, selectors, services
from ..forms.metrics import MetricsRangeForm, ReviewActionFormSet, ReviewForm
from ..models import Review, ReviewAction

PAGE_SIZE = 25
CHART_WIDTH = 720
CHART_HEIGHT = 120
CSV_HEADER = [
    "figure",
    "priority",
    "value",
    "unit",
    "target",
    "verdict",
    "counted",
    "missed",
]


def _range_form(request):
    now = timezone.now()
    zone = timezone.get_current_timezone()
    form = MetricsRangeForm(request.GET or None, today=now.astimezone(zone).date())
    period = form.period(zone=zone, now=now) if form.is_valid() else None
    return form, period


def _column_chart(
    title: str, points: list[tuple[str, float, str]], *, top=None, has_data=None
):
    """Column geometry for an SVG chart drawn on the page, with its numbers.

    ``points`` are (label, value, the value as a person reads it); ``top`` is
    the value of a full column (the tallest one's unless given, e.g. 100%).
    """
    tallest = top or max((value for _, value, _ in points), default=0)
    slot = CHART_WIDTH / max(len(points), 1)
    # A few columns stay columns, centred in their slot, not a wall of colour.
    width = max(min(slot - 1, CHART_WIDTH / 12), 1)
    columns = [
        {
            "label": label,
            "text": text,
            "x": round(index * slot + (slot - width) / 2, 2),
            "width": round(width, 2),
            "height": round(CHART_HEIGHT * value / tallest, 2) if tallest else 0,
            "y": round(CHART_HEIGHT - CHART_HEIGHT * value / tallest, 2)
            if tallest
            else CHART_HEIGHT,
        }
        for index, (label, value, text) in enumerate(points)
    ]
    return {
        "title": title,
        "columns": columns,
        "has_data": any(value for _, value, _ in points)
        if has_data is None
        else has_data,
        "first": points[0][0] if points else "",
        "last": points[-1][0] if points else "",
    }


def _charts(board) -> list[dict]:
    """The dashboard's pictures: incidents, escalations, SLA and the tiers."""
    escalations = board.escalations
    # Quiet weeks and months show as empty columns, as quiet days do.
    days = [day for day, _ in board.per_day]
    weeks = dict.fromkeys(day - dt.timedelta(days=day.weekday()) for day in days)
    months = dict.fromkeys(day.replace(day=1) for day in days)
    per_week = {**dict.fromkeys(weeks, 0), **dict(escalations.get("per_week", []))}
    per_month = {**dict.fromkeys(months, 0), **dict(escalations.get("per_month", []))}
    sla = {week: (0, 0) for week in weeks} | {
        week: (due, met) for week, due, met in board.sla_per_week
    }
    return [
        _column_chart(
            "Incidents opened per day",
            [(f"{day:%b %-d}", count, str(count)) for day, count in board.per_day],
        ),
        _column_chart(
            "Escalations raised per week",
            [
                (f"Week of {week:%b %-d}", count, str(count))
                for week, count in sorted(per_week.items())
            ],
        ),
        _column_chart(
            "Escalations raised per month",
            [
                (f"{month:%b %Y}", count, str(count))
                for month, count in sorted(per_month.items())
            ],
        ),
        _column_chart(
            "Resolutions on time, by the week incidents opened",
            [
                (
                    f"Week of {week:%b %-d}",
                    100 * met / due if due else 0,
                    f"{100 * met / due:.0f}% ({met} of {due})" if due else "none due",
                )
                for week, (due, met) in sorted(sla.items())
            ],
            top=100,
            # A week where every deadline was missed is drawn, at 0%.
            has_data=any(due for due, _ in sla.values()),
        ),
        _column_chart(
            "Escalations by tier",
            [
                (row["to_tier__name"], row["count"], str(row["count"]))
                for row in escalations.get("by_tier", [])
            ],
        ),
    ]


@require_GET
def metrics_dashboard(request):
    form, period = _range_form(request)
    context = {"form": form, "chart": {"width": CHART_WIDTH, "height": CHART_HEIGHT}}
    if period is not None:
        board = metrics.dashboard(period)
        query = request.GET.copy()
        query.pop("show", None)
        context.update(
            board=board,
            charts=_charts(board),
            query_string=query.urlencode(),
        )
    return render(request, "escalations/metrics_dashboard.html", context)


@require_GET
def metrics_incidents(request):
    """The incidents behind one figure (its misses, or all it counted)."""
    form, period = _range_form(request)
    condition = (
        metrics.drill_condition(request.GET.get("figure", ""), period.now)
        if period
        else None
    )
    if condition is None:
        return render(
            request,
            "escalations/metrics_incidents.html",
            {"form": form, "unknown": True},
            status=400,
        )
    incidents = period.incidents().filter(condition)
    priority = request.GET.get("priority", "")
    if priority in metrics.PRIORITIES:
        incidents = incidents.filter(priority=priority)
    incidents = incidents.order_by("-created_at", "-id")
    page = CappedCountPaginator(
        incidents, PAGE_SIZE, rows=incident_selectors.incident_rows()
    ).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "escalations/metrics_incidents.html",
        {
            "form": form,
            "page": page,
            "title": metrics.DRILL_LABELS[request.GET["figure"]],
            "priority": priority,
            "query_string": query.urlencode(),
            "now": period.now,
        },
    )


@require_GET
def metrics_export(request):
    """The dashboard's tables as one CSV, for the range and policy shown.

    The figures first, then each other table under its title and header,
    so a spreadsheet opens every table the page shows.
    """
    form, period = _range_form(request)
    if period is None:
        return HttpResponse(
            " ".join(form.non_field_errors()) or "Pick a valid date range.",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    board = metrics.dashboard(period)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    response, writer = csv_export(f"switchboard-metrics-{start}-{end}.csv")
    writer.writerow(CSV_HEADER)
    for row in board.rows:
        writer.writerow(
            [
                row.definition.label,
                row.priority or "all",
                "" if row.value is None else row.value,
                row.definition.unit,
                "" if row.target is None else row.target,
                row.verdict,
                row.counted,
                row.missed,
            ]
        )
    for title, header, rows in _more_tables(board):
        writer.writerow([])
        writer.writerow([title])
        writer.writerow(header)
        writer.writerows(rows)
    return response


def _more_tables(board) -> list[tuple[str, list[str], list[list]]]:
    """Every other table of the dashboard, as (title, header, rows) for the CSV."""
    systemic, satisfaction, escalations = (
        board.systemic,
        board.satisfaction,
        board.escalations,
    )

    def blank(value):
        return "" if value is None else value

    return [
        (
            "Incidents opened per day",
            ["day", "incidents opened"],
            [[day.isoformat(), count] for day, count in board.per_day],
        ),
        (
            "Systemic impact",
            ["measure", "value"],
            [
                ["systemic incidents", systemic["incidents"]],
                ["customers affected", systemic["customers"]],
                ["average hours without service", blank(systemic["without_service"])],
                ["deadline breaches", systemic["breaches"]],
                ["revenue impact entered", blank(systemic["revenue"])],
                ["incidents with revenue impact entered", systemic["revenue_entered"]],
            ],
        ),
        (
            "Satisfaction",
            ["question", "average (1-5)"],
            [
                [name.replace("_", " "), blank(satisfaction[name])]
                for name in (
                    "score",
                    "communication",
                    "response_time",
                    "resolution",
                    "handling",
                )
            ]
            + [
                ["answers", satisfaction["answers"]],
                ["unhappy (1-2)", satisfaction["unhappy"]],
            ],
        ),
        (
            "Open escalations by priority",
            ["priority", "open"],
            [
                [row["incident__priority"], row["count"]]
                for row in escalations["open_by_priority"]
            ],
        ),
        (
            "Escalations by tier",
            ["tier", "policy", "raised", "resolved", "returned", "avg hours"],
            [
                [
                    row["to_tier__name"],
                    row["to_tier__policy__name"],
                    row["count"],
                    row["resolved"],
                    row["returned"],
                    blank(row["avg_hours"]),
                ]
                for row in escalations["by_tier"]
            ],
        ),
        (
            "Top escalation reasons",
            ["path", "escalations"],
            [[row["reason"], row["count"]] for row in escalations["reasons"]],
        ),
        (
            "Customers escalated more than once",
            ["customer", "incidents"],
            [
                [row["incident__customer__name"], row["incidents"]]
                for row in escalations["repeat_customers"]
            ],
        ),
        (
            "Escalations per week",
            ["week starting", "escalations"],
            [[week.isoformat(), count] for week, count in escalations["per_week"]],
        ),
        (
            "Escalations per month",
            ["month", "escalations"],
            [[month.isoformat(), count] for month, count in escalations["per_month"]],
        ),
    ]


@require_GET
@permission_required("escalations.view_review", raise_exception=True)
def review_list(request):
    reviews = Review.objects.select_related("policy", "held_by").order_by(
        "-period_end_on", "-id"
    )
    page = CappedCountPaginator(reviews, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "escalations/review_list.html", {"page": page})


@require_http_methods(["GET", "POST"])
@permission_required("escalations.add_review", raise_exception=True)
def review_new(request):
    today = timezone.localdate()
    form = ReviewForm(
        request.POST or None,
        initial={
            "kind": Review.Kind.WEEKLY,
            "period_start_on": today - dt.timedelta(days=6),
            "period_end_on": today,
        },
    )
    actions = ReviewActionFormSet(request.POST or None, prefix="actions")
    recording = "record" in request.POST
    if recording and form.is_valid() and actions.is_valid():
        try:
            review = services.record_review(
                actor=request.user,
                **form.cleaned_data,
                actions=[
                    {key: data[key] for key in ("what", "owner", "due_on")}
                    for data in actions.cleaned_data
                    if data
                ],
                today=today,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Review recorded.")
            return redirect("escalations:review_detail", review.pk)
    items = None
    if form.is_bound and form.is_valid():
        items = _items_for(form.cleaned_data)
    return render(
        request,
        "escalations/review_form.html",
        {"form": form, "actions": actions, "items": items, "kinds": Review.Kind},
    )


def _items_for(data) -> dict:
    zone = timezone.get_current_timezone()
    range_form = MetricsRangeForm(
        {
            "start": data["period_start_on"],
            "end": data["period_end_on"],
            "policy": data["policy"].pk if data["policy"] else "",
        },
        today=timezone.localdate(),
    )
    if not range_form.is_valid():
        return {}
    return selectors.review_items(range_form.period(zone=zone, now=timezone.now()))


@require_GET
@permission_required("escalations.view_review", raise_exception=True)
def review_detail(request, pk):
    review = get_object_or_404(
        Review.objects.select_related("policy", "held_by"), pk=pk
    )
    items = _items_for(
        {
            "period_start_on": review.period_start_on,
            "period_end_on": review.period_end_on,
            "policy": review.policy,
        }
    )
    return render(
        request,
        "escalations/review_detail.html",
        {
            "review": review,
            "actions": review.actions.select_related("owner"),
            "items": items,
            "dashboard_url": reverse("escalations:metrics")
            + f"?start={review.period_start_on}&end={review.period_end_on}"
            + (f"&policy={review.policy_id}" if review.policy_id else ""),
        },
    )


@require_POST
def review_action_done(request, pk):
    action = get_object_or_404(ReviewAction, pk=pk)
    return post_action(
        request,
        act=lambda: services.complete_review_action(actor=request.user, action=action),
        success=f"Marked done: {action.what}",
        back=reverse("escalations:review_detail", args=[action.review_id]),
    )
