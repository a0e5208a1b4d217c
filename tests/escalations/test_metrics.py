"""The dashboard's figures, on small data sets worked out by hand."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from escalations import metrics
from escalations.models import MetricTarget
from incidents import services
from incidents.models import Policy
from tests.factories import CustomerFactory, IncidentFactory

MIN = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)
pytestmark = pytest.mark.django_db


@pytest.fixture
def agency():
    return Policy.objects.get(name="Automation agency")


def _open(policy, priority, **kwargs):
    return IncidentFactory(
        priority=priority, customer=CustomerFactory(policy=policy), **kwargs
    )


def _respond(incident, at, time_machine):
    time_machine.move_to(at, tick=False)
    return services.record_first_response(incident=incident, actor=None)


def _resolve(incident, at, time_machine):
    time_machine.move_to(at, tick=False)
    incident = services.move_incident(
        incident=incident, actor=None, to_status="investigating"
    )
    return services.move_incident(incident=incident, actor=None, to_status="resolved")


@pytest.fixture
def four_incidents(frozen_now, time_machine, agency):
    """A: P1 on time throughout. B: P1 late throughout. C: P3 untouched,
    nothing due yet. D: P3 answered on time, not resolved, nothing due."""
    a, b = _open(agency, "P1"), _open(agency, "P1")
    c, d = _open(agency, "P3"), _open(agency, "P3")
    a = _respond(a, a.first_response_due_at - MIN, time_machine)
    b = _respond(b, b.first_response_due_at + MIN, time_machine)
    d = _respond(d, frozen_now + 30 * MIN, time_machine)
    a = _resolve(a, a.resolution_due_at - MIN, time_machine)
    b = _resolve(b, b.resolution_due_at + MIN, time_machine)
    time_machine.move_to(frozen_now, tick=False)
    return {"a": a, "b": b, "c": c, "d": d}


def _board(frozen_now, policy, *, now):
    return metrics.dashboard(
        metrics.Period(start=frozen_now - H, end=frozen_now + H, policy=policy, now=now)
    )


def _row(board, figure, priority=""):
    (row,) = [r for r in board.rows if r.figure == figure and r.priority == priority]
    return row


def test_compliance_counts_only_deadlines_that_are_due_or_met(
    four_incidents, frozen_now, agency
):
    b = four_incidents["b"]
    board = _board(frozen_now, agency, now=b.resolved_at)
    # First responses: A on time, B late, D on time; C is neither answered
    # nor due yet, so it does not count: 2 of 3.
    overall = _row(board, "first_response_compliance")
    assert (overall.value, overall.counted, overall.missed) == (Decimal("66.7"), 3, 1)
    assert _row(board, "first_response_compliance", "P1").value == Decimal("50.0")
    assert _row(board, "first_response_compliance", "P3").value == Decimal("100.0")
    assert _row(board, "first_response_compliance", "P2").value is None
    # Resolutions: A on time, B late; C and D open and not yet due.
    assert _row(board, "resolution_compliance").value == Decimal("50.0")
    assert _row(board, "sla_compliance").value == Decimal("50.0")
    assert _row(board, "sla_breaches").value == 1
    assert board.total == 4


def test_an_overdue_open_incident_counts_as_missed(four_incidents, frozen_now, agency):
    c = four_incidents["c"]
    board = _board(frozen_now, agency, now=c.first_response_due_at + MIN)
    # C's first response is now overdue: A and D on time, B and C late.
    assert _row(board, "first_response_compliance").value == Decimal("50.0")
    assert _row(board, "first_response_compliance", "P3").value == Decimal("50.0")


def test_targets_come_from_the_policy_and_colour_the_figure(
    four_incidents, frozen_now, agency
):
    board = _board(frozen_now, agency, now=four_incidents["b"].resolved_at)
    p1 = _row(board, "first_response_compliance", "P1")
    assert p1.target == Decimal("100") and p1.verdict == "bad"
    p3 = _row(board, "first_response_compliance", "P3")
    assert p3.target == Decimal("90") and p3.verdict == "good"
    # An admin lowering the bar takes effect on the next look.
    MetricTarget.objects.filter(
        policy=agency, figure="first_response_compliance", priority="P1"
    ).update(target=Decimal("50"))
    board = _board(frozen_now, agency, now=four_incidents["b"].resolved_at)
    assert _row(board, "first_response_compliance", "P1").verdict == "good"


def test_without_a_policy_no_target_applies(four_incidents, frozen_now):
    board = _board(frozen_now, None, now=four_incidents["b"].resolved_at)
    assert all(row.target is None and row.verdict == "" for row in board.rows)


def test_averages_in_hours(four_incidents, frozen_now, agency):
    a, b, d = (four_incidents[k] for k in "abd")
    board = _board(frozen_now, agency, now=b.resolved_at)
    responses = [
        (x.first_response_at - x.created_at).total_seconds() / 3600 for x in (a, b, d)
    ]
    expected = Decimal(sum(responses) / 3).quantize(Decimal("0.01"))
    assert _row(board, "avg_hours_to_first_response").value == expected
    resolutions = [
        (x.resolved_at - x.created_at).total_seconds() / 3600 for x in (a, b)
    ]
    expected = Decimal(sum(resolutions) / 2).quantize(Decimal("0.01"))
    assert _row(board, "avg_hours_to_resolution").value == expected


def test_time_to_detect_runs_from_impact_to_detection(frozen_now, agency):
    for impact_hours in (3, 2):
        _open(
            agency,
            "P2",
            impact_started_at=frozen_now - impact_hours * H,
            detected_at=frozen_now - H,
        )
    board = _board(frozen_now, agency, now=frozen_now)
    assert _row(board, "avg_hours_to_detect").value == Decimal("1.50")


def test_satisfaction_averages_answers_in_the_range(four_incidents, frozen_now, agency):
    from incidents.models import SurveyResponse

    a, b = four_incidents["a"], four_incidents["b"]
    for incident, score in ((a, 5), (b, 2)):
        SurveyResponse.objects.create(
            incident=incident,
            customer=incident.customer,
            score=score,
            communication_score=4 if score == 5 else None,
            answered_at=frozen_now,
        )
    board = _board(frozen_now, agency, now=b.resolved_at)
    assert board.satisfaction["score"] == Decimal("3.50")
    assert board.satisfaction["communication"] == Decimal("4.00")
    assert board.satisfaction["unhappy"] == 1
    assert _row(board, "csat").counted == 2


def test_incidents_outside_the_range_or_policy_are_left_out(frozen_now, agency):
    _open(agency, "P1")
    _open(Policy.objects.get(name="Fleet SaaS"), "P1")
    board = _board(frozen_now, agency, now=frozen_now)
    assert board.total == 1
    later = metrics.dashboard(
        metrics.Period(
            start=frozen_now + H, end=frozen_now + 2 * H, policy=agency, now=frozen_now
        )
    )
    assert later.total == 0


def test_systemic_impact_summary(frozen_now, time_machine, agency):
    from incidents.models import AffectedCustomer

    incident = IncidentFactory(
        priority="P2",
        customer=None,
        is_systemic=True,
        impact_started_at=frozen_now - 2 * H,
    )
    for _ in range(3):
        AffectedCustomer.objects.create(incident=incident, customer=CustomerFactory())
    _resolve(incident, frozen_now + H, time_machine)
    board = _board(frozen_now, None, now=frozen_now + H)
    assert board.systemic["incidents"] == 1
    assert board.systemic["customers"] == 3
    assert board.systemic["without_service"] == Decimal("3.00")


def test_systemic_revenue_impact_adds_up_what_was_entered(
    agent_client, frozen_now, agency
):
    for revenue in (Decimal("1200.50"), Decimal("300.00"), None):
        IncidentFactory(
            priority="P2", customer=None, is_systemic=True, revenue_impact=revenue
        )
    IncidentFactory(priority="P2", revenue_impact=Decimal("999"))  # not systemic

    board = _board(frozen_now, None, now=frozen_now)

    assert board.systemic["revenue"] == Decimal("1500.50")
    assert (board.systemic["revenue_entered"], board.systemic["incidents"]) == (2, 3)
    page = agent_client.get(
        reverse("escalations:metrics"), {"start": "2026-11-18", "end": "2026-11-18"}
    ).content.decode()
    assert "$1,500.50" in page and "entered on 2 of 3" in page


# --- The page ---------------------------------------------------------------


def test_dashboard_shows_figures_and_links_to_the_misses(
    agent_client, four_incidents, frozen_now, agency
):
    url = reverse("escalations:metrics")
    response = agent_client.get(
        url, {"start": "2026-11-18", "end": "2026-11-18", "policy": agency.pk}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "First responses on time" in body
    assert "figure=first_response_missed&amp;priority=P1" in body
    drill = agent_client.get(
        reverse("escalations:metrics_incidents"),
        {
            "start": "2026-11-18",
            "end": "2026-11-18",
            "policy": agency.pk,
            "figure": "first_response_missed",
        },
    )
    assert drill.status_code == 200
    assert four_incidents["b"].reference in drill.content.decode()
    assert four_incidents["a"].reference not in drill.content.decode()


def test_the_average_resolution_time_links_the_incidents_it_averages(
    agent_client, four_incidents, frozen_now, agency
):
    params = {"start": "2026-11-18", "end": "2026-11-18", "policy": agency.pk}
    board = _board(frozen_now, agency, now=four_incidents["b"].resolved_at)
    row = _row(board, "avg_hours_to_resolution")

    body = agent_client.get(reverse("escalations:metrics"), params).content.decode()

    # Nothing is "missed" about an average: its count of resolved incidents
    # is the link, and the missed column stays empty.
    assert (row.drill, row.basis_drill) == ("", "resolved")
    assert "figure=resolved" in body
    drill = agent_client.get(
        reverse("escalations:metrics_incidents"), {**params, "figure": "resolved"}
    ).content.decode()
    assert four_incidents["a"].reference in drill
    assert four_incidents["c"].reference not in drill


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-11-18", "end": "2026-11-01"}, "ends before it starts"),
        ({"start": "2024-01-01", "end": "2026-11-18"}, "at most 400 days"),
        ({"start": "not a date", "end": "2026-11-18"}, "Enter a valid date"),
        ({"start": "2026-11-01", "end": ""}, "This field is required"),
    ],
)
def test_bad_ranges_get_a_clear_message(agent_client, frozen_now, params, message):
    response = agent_client.get(reverse("escalations:metrics"), params)
    assert response.status_code == 200
    assert message in response.content.decode()
    export = agent_client.get(reverse("escalations:metrics_export"), params)
    assert export.status_code == 400


def test_an_unknown_drill_figure_is_a_clear_400(agent_client, frozen_now):
    response = agent_client.get(
        reverse("escalations:metrics_incidents"),
        {"start": "2026-11-01", "end": "2026-11-18", "figure": "__class__"},
    )
    assert response.status_code == 400


def test_csv_export_holds_each_figure(agent_client, four_incidents, frozen_now, agency):
    response = agent_client.get(
        reverse("escalations:metrics_export"),
        {"start": "2026-11-18", "end": "2026-11-18", "policy": agency.pk},
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["figure", "priority", "value"]
    p1 = [r for r in rows if r[:2] == ["First responses on time", "P1"]]
    assert p1 == [
        ["First responses on time", "P1", "50.0", "%", "100.00", "bad", "2", "1"]
    ]
    titles = {rows[i + 1][0] for i, row in enumerate(rows[:-1]) if row == []}
    assert titles == {
        "Incidents opened per day",
        "Systemic impact",
        "Satisfaction",
        "Open escalations by priority",
        "Escalations by tier",
        "Top escalation reasons",
        "Customers escalated more than once",
        "Escalations per week",
        "Escalations per month",
    }


def test_dashboard_query_count_does_not_grow_with_incidents(
    agent_client, frozen_now, agency
):
    params = {"start": "2026-11-18", "end": "2026-11-18", "policy": agency.pk}
    _open(agency, "P1")
    agent_client.get(reverse("escalations:metrics"), params)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        agent_client.get(reverse("escalations:metrics"), params)
    for priority in ("P1", "P2", "P3", "P4") * 5:
        _open(agency, priority)
    with CaptureQueriesContext(connection) as many:
        agent_client.get(reverse("escalations:metrics"), params)
    assert len(many) == len(few)


def test_a_resolved_incident_page_shows_its_key_metrics(agent_client, four_incidents):
    page = agent_client.get(four_incidents["a"].get_absolute_url()).content.decode()
    assert 'id="key-metrics"' in page
    assert "first reply in 14 min" in page
    assert "SLA met: yes" in page
    late = agent_client.get(four_incidents["b"].get_absolute_url()).content.decode()
    assert '<span class="text-danger">no</span>' in late
    open_one = agent_client.get(four_incidents["c"].get_absolute_url())
    assert 'id="key-metrics"' not in open_one.content.decode()


def test_the_chart_counts_every_day_of_the_range_quiet_ones_included(
    frozen_now, agency
):
    _open(agency, "P3")
    _open(agency, "P3")
    start = frozen_now.replace(hour=0) - dt.timedelta(days=1)
    board = metrics.dashboard(
        metrics.Period(
            start=start,
            end=start + dt.timedelta(days=3),
            policy=agency,
            now=frozen_now,
        )
    )
    assert board.per_day == [
        (dt.date(2026, 11, 17), 0),
        (dt.date(2026, 11, 18), 2),
        (dt.date(2026, 11, 19), 0),
    ]


def test_sla_compliance_is_drawn_by_week_with_its_numbers(
    agent_client, four_incidents, frozen_now, agency, time_machine
):
    b = four_incidents["b"]
    board = _board(frozen_now, agency, now=b.resolved_at)
    monday = (frozen_now - dt.timedelta(days=frozen_now.weekday())).date()
    # A on time, B late; C and D not due yet.
    assert board.sla_per_week == [(monday, 2, 1)]

    time_machine.move_to(b.resolved_at, tick=False)
    page = agent_client.get(
        reverse("escalations:metrics"),
        {"start": "2026-11-18", "end": "2026-11-18", "policy": agency.pk},
    ).content.decode()

    assert "Resolutions on time, by the week incidents opened" in page
    assert "counts only incidents already resolved" in page
    assert "Escalations raised per week" in page and "Escalations by tier" in page
    assert f"Week of {monday:%b %-d}: 50% (1 of 2)" in page
    assert "The numbers" in page


def test_escalation_figures_worked_by_hand(frozen_now, time_machine, agent):
    """Three incidents opened together: one escalated two hours in, all three
    resolved. Escalated 1 of 3; resolved without escalation 2 of 3."""
    from escalations.models import Tier
    from tests.factories import UserFactory, request_test_escalation

    carrier = Policy.objects.get(name="Carrier playbook")
    Tier.objects.get(policy=carrier, key="l2").members.add(
        UserFactory(role="Senior agent")
    )
    incidents = [_open(carrier, "P3") for _ in range(3)]
    time_machine.move_to(frozen_now + 2 * H, tick=False)
    request_test_escalation(incidents[0], agent)
    for incident in incidents:
        _resolve(incident, frozen_now + 3 * H, time_machine)
    board = metrics.dashboard(
        metrics.Period(
            start=frozen_now - H,
            end=frozen_now + 4 * H,
            policy=carrier,
            now=frozen_now + 3 * H,
        )
    )

    assert _row(board, "escalation_rate").value == Decimal("33.3")
    assert _row(board, "first_contact_resolution").value == Decimal("66.7")
    assert _row(board, "tier1_resolution_rate").value == Decimal("66.7")
    assert _row(board, "tier2_resolution_rate").value == Decimal("100.0")
    assert _row(board, "avg_hours_to_escalation").value == Decimal("2.00")
    assert board.escalations["raised"] == 1
    assert [row["to_tier__name"] for row in board.escalations["by_tier"]] == [
        Tier.objects.get(policy=carrier, key="l2").name
    ]
    # Open escalations by the incident's priority, whatever the range.
    assert board.escalations["open_by_priority"] == [
        {"incident__priority": "P3", "count": 1}
    ]


def test_tier_resolution_rates_follow_how_far_each_incident_went(
    frozen_now, time_machine, agent
):
    """Four resolved incidents: A never escalated, B to management only (no
    support tier), C to L2, D to L2 then engineering. Resolved at Tier 1:
    A and B, 2 of 4; at Tier 2: C of C and D, 1 of 2; without any
    escalation: A, 1 of 4."""
    from escalations.models import Tier
    from tests.factories import UserFactory, request_test_escalation

    carrier = Policy.objects.get(name="Carrier playbook")
    for key in ("l2", "engineering", "management"):
        Tier.objects.get(policy=carrier, key=key).members.add(
            UserFactory(role="Senior agent")
        )
    a, b, c, d = (_open(carrier, "P3") for _ in range(4))
    time_machine.move_to(frozen_now + H, tick=False)
    request_test_escalation(
        b,
        agent,
        tier_key="management",
        path="management",
        path_details={
            "situation": "Renewal talks",
            "customer_requests": "A call",
            "risk": "Churn",
            "recommended_action": "Call them",
        },
    )
    request_test_escalation(c, agent)
    request_test_escalation(d, agent)
    request_test_escalation(
        d,
        agent,
        tier_key="engineering",
        path="engineering",
        path_details={
            "environment": "iPhone 15, app 4.2",
            "repro_steps": "Open the app",
            "expected": "eSIM installs",
            "actual": "Spinner forever",
        },
    )
    for incident in (a, b, c, d):
        _resolve(incident, frozen_now + 3 * H, time_machine)

    board = _board(frozen_now, carrier, now=frozen_now + 3 * H)

    assert _row(board, "tier1_resolution_rate").value == Decimal("50.0")
    assert _row(board, "tier2_resolution_rate").value == Decimal("50.0")
    assert _row(board, "tier2_resolution_rate").counted == 2
    assert _row(board, "first_contact_resolution").value == Decimal("25.0")


def test_every_incident_figure_links_the_incidents_it_stands_on(
    agent_client, four_incidents, frozen_now, agency
):
    params = {"start": "2026-11-18", "end": "2026-11-18", "policy": agency.pk}
    board = _board(frozen_now, agency, now=four_incidents["b"].resolved_at)

    unlinked = [
        row.figure
        for row in board.rows
        if not row.priority and not row.basis_drill and row.figure != "csat"
    ]
    assert unlinked == []  # CSAT stands on answers, not incidents
    names = {row.basis_drill for row in board.rows} | {r.drill for r in board.rows}
    for name in names - {""}:
        response = agent_client.get(
            reverse("escalations:metrics_incidents"), {**params, "figure": name}
        )
        assert response.status_code == 200, name
    responded = agent_client.get(
        reverse("escalations:metrics_incidents"), {**params, "figure": "responded"}
    ).content.decode()
    assert four_incidents["d"].reference in responded
    assert four_incidents["c"].reference not in responded


@pytest.mark.parametrize(
    ("value", "strict", "verdict"),
    [(20, True, "bad"), (20, False, "good"), (19.9, True, "good")],
)
def test_a_strict_target_is_not_met_by_reaching_it(value, strict, verdict):
    from decimal import Decimal

    from escalations.metrics import Row

    row = Row(
        figure="escalation_rate",
        value=Decimal(str(value)),
        target=Decimal("20"),
        strict=strict,
    )

    assert row.verdict == verdict
    assert row.comparison == ("<" if strict else "≤")


@pytest.mark.django_db
def test_the_fleet_playbooks_over_and_under_targets_ship_strict():
    from escalations.models import MetricTarget

    strict = set(
        MetricTarget.objects.filter(is_strict=True).values_list("figure", flat=True)
    )

    assert {"escalation_rate", "csat", "sla_compliance"} <= strict
    assert not MetricTarget.objects.filter(
        is_strict=True, figure="first_response_compliance"
    ).exists()
