import datetime as dt

import pytest

from incidents import services
from incidents.models import (
    BusinessCalendar,
    Category,
    Holiday,
    Incident,
    Policy,
    Priority,
    Segment,
    TimelineEvent,
)
from incidents.selectors import incident_clocks
from incidents.selectors.lists import _sla_state_q
from incidents.sla import ClockState, WorkingDays, clock_state
from tests.factories import CustomerFactory, IncidentFactory

H = dt.timedelta(hours=1)
MIN = dt.timedelta(minutes=1)

# The carrier communication playbook: first response and resolution per
# priority. It names no segment modifiers, so every segment gets the same
# targets.
CARRIER_FIRST_RESPONSE = {"P1": 30 * MIN, "P2": 2 * H, "P3": 8 * H, "P4": 24 * H}
CARRIER_RESOLUTION = {"P1": 4 * H, "P2": 24 * H, "P3": 72 * H}
# The fleet escalation playbook halves enterprise and doubles trial response
# times.
FLEET_FIRST_RESPONSE = {"P1": 15 * MIN, "P2": 2 * H, "P3": 4 * H, "P4": 8 * H}
FLEET_FACTOR = {Segment.ENTERPRISE: 0.5, Segment.STANDARD: 1, Segment.TRIAL: 2}


@pytest.mark.django_db
@pytest.mark.parametrize("priority", Priority.values)
@pytest.mark.parametrize("segment", Segment.values)
def test_open_incident_stamps_deadlines_from_policy_priority_and_segment(
    frozen_now, priority, segment
):
    customer = CustomerFactory(segment=segment)

    incident = IncidentFactory(priority=priority, customer=customer)

    assert (
        incident.first_response_due_at == frozen_now + CARRIER_FIRST_RESPONSE[priority]
    )
    if priority == "P4":
        # Wednesday noon + 5 business days = next Wednesday noon.
        assert incident.resolution_due_at == frozen_now + dt.timedelta(days=7)
    else:
        assert incident.resolution_due_at == frozen_now + CARRIER_RESOLUTION[priority]


@pytest.mark.django_db
@pytest.mark.parametrize("priority", Priority.values)
@pytest.mark.parametrize("segment", Segment.values)
def test_fleet_policy_scales_first_response_by_segment(frozen_now, priority, segment):
    fleet = Policy.objects.get(name="Fleet SaaS")
    customer = CustomerFactory(segment=segment, policy=fleet)

    incident = IncidentFactory(priority=priority, customer=customer)

    expected = FLEET_FIRST_RESPONSE[priority] * FLEET_FACTOR[segment]
    assert incident.first_response_due_at == frozen_now + expected


@pytest.mark.django_db
def test_scaled_target_keeps_its_exact_value(frozen_now):
    fleet = Policy.objects.get(name="Fleet SaaS")
    customer = CustomerFactory(segment=Segment.ENTERPRISE, policy=fleet)

    incident = IncidentFactory(priority=Priority.P1, customer=customer)

    # Sev 1 enterprise: 15 min x 0.5 is 7.5 minutes, not rounded up to 8.
    assert incident.first_response_due_at == frozen_now + dt.timedelta(seconds=450)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["Carrier playbook", "Automation agency"])
def test_policies_whose_seed_names_no_modifiers_ship_without_them(name):
    policy = Policy.objects.get(name=name)

    assert policy.enterprise_response_factor == 1
    assert policy.trial_response_factor == 1


@pytest.mark.django_db
def test_systemic_incident_without_customer_uses_standard_targets(frozen_now):
    incident = IncidentFactory(priority=Priority.P2, customer=None, is_systemic=True)

    assert incident.first_response_due_at == frozen_now + 2 * H


@pytest.mark.django_db
def test_customer_policy_overrides_the_default(frozen_now):
    agency = Policy.objects.get(name="Automation agency")
    customer = CustomerFactory(policy=agency)

    incident = IncidentFactory(priority=Priority.P1, customer=customer)

    assert incident.policy == agency
    assert incident.first_response_due_at == frozen_now + 15 * MIN
    assert incident.resolution_due_at == frozen_now + 2 * H


def _calendar(weekdays="12345", holidays=(), zone="UTC"):
    return WorkingDays(
        zone=__import__("zoneinfo").ZoneInfo(zone),
        weekdays=frozenset(int(d) for d in weekdays),
        holidays=frozenset(holidays),
    )


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # Friday 15:00 + 1 business day skips the weekend.
        (dt.datetime(2026, 11, 20, 15), 1, dt.datetime(2026, 11, 23, 15)),
        # Friday + 5 business days = next Friday.
        (dt.datetime(2026, 11, 20, 9), 5, dt.datetime(2026, 11, 27, 9)),
        # Saturday: the clock starts Monday 00:00.
        (dt.datetime(2026, 11, 21, 10), 1, dt.datetime(2026, 11, 24, 0)),
        # Sunday + 5 business days = Monday midnight of the following week.
        (dt.datetime(2026, 11, 22, 23), 5, dt.datetime(2026, 11, 30, 0)),
    ],
)
def test_business_days_skip_weekends(start, days, expected):
    start, expected = start.replace(tzinfo=dt.UTC), expected.replace(tzinfo=dt.UTC)

    assert _calendar().add_business_days(start, days) == expected


def test_business_days_skip_holidays():
    christmas = dt.date(2026, 12, 25)
    boxing_day = dt.date(2026, 12, 28)  # observed on the Monday
    start = dt.datetime(2026, 12, 24, 10, tzinfo=dt.UTC)  # Thursday

    deadline = _calendar(holidays={christmas, boxing_day}).add_business_days(start, 2)

    assert deadline == dt.datetime(2026, 12, 30, 10, tzinfo=dt.UTC)


def test_business_days_start_on_a_holiday_at_next_working_morning():
    start = dt.datetime(2026, 12, 25, 14, tzinfo=dt.UTC)

    deadline = _calendar(holidays={dt.date(2026, 12, 25)}).add_business_days(start, 1)

    assert deadline == dt.datetime(2026, 12, 29, 0, tzinfo=dt.UTC)


def test_business_days_follow_the_calendar_time_zone():
    # 23:30 UTC Friday is already Saturday in Tokyo: the clock starts Monday
    # 00:00 Tokyo time, which is Sunday 15:00 UTC.
    start = dt.datetime(2026, 11, 20, 23, 30, tzinfo=dt.UTC)

    deadline = _calendar(zone="Asia/Tokyo").add_business_days(start, 1)

    assert deadline == dt.datetime(2026, 11, 23, 15, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_holidays_in_the_admin_calendar_move_business_day_deadlines(frozen_now):
    calendar = BusinessCalendar.objects.get()
    Holiday.objects.create(
        calendar=calendar, falls_on=dt.date(2026, 11, 19), name="Founders' day"
    )

    incident = IncidentFactory(priority=Priority.P4)

    # Wednesday noon + 5 business days with Thursday off = next Thursday noon.
    assert incident.resolution_due_at == frozen_now + dt.timedelta(days=8)


@pytest.mark.parametrize(
    ("now_offset", "stopped_offset", "expected"),
    [
        (-3 * H, None, ClockState.RUNNING),
        (-2 * H, None, ClockState.AT_RISK),
        (-1 * MIN, None, ClockState.AT_RISK),
        (1 * MIN, None, ClockState.BREACHED),
        (5 * H, -1 * H, ClockState.MET),
        (5 * H, 0 * H, ClockState.MET),
        (5 * H, 1 * MIN, ClockState.BREACHED),
    ],
)
def test_clock_state(now_offset, stopped_offset, expected):
    due = dt.datetime(2026, 11, 18, 12, tzinfo=dt.UTC)

    state = clock_state(
        due_at=due,
        at_risk_at=due - 2 * H,
        stopped_at=due + stopped_offset if stopped_offset is not None else None,
        now=due + now_offset,
    )

    assert state == expected


@pytest.mark.django_db
def test_priority_change_recomputes_deadlines_with_a_timeline_event(
    frozen_now, time_machine, agent
):
    incident = IncidentFactory(priority=Priority.P3)
    time_machine.move_to(frozen_now + H, tick=False)

    incident = services.edit_incident_details(
        incident=incident,
        actor=agent,
        expected_version=incident.version,
        changes={"priority": Priority.P1},
    )

    # Deadlines still count from when the incident was opened.
    assert incident.first_response_due_at == frozen_now + 30 * MIN
    assert incident.resolution_due_at == frozen_now + 4 * H
    event = incident.timeline_events.get(kind=TimelineEvent.Kind.SLA_RECOMPUTED)
    assert event.actor == agent
    assert event.details["priority"] == "P1"


@pytest.mark.django_db
def test_customer_change_recomputes_deadlines_for_the_new_segment(frozen_now, agent):
    fleet = Policy.objects.get(name="Fleet SaaS")
    incident = IncidentFactory(priority=Priority.P2)
    enterprise = CustomerFactory(segment=Segment.ENTERPRISE, policy=fleet)

    incident = services.edit_incident_details(
        incident=incident,
        actor=agent,
        expected_version=incident.version,
        # A fleet customer's incident takes a fleet category.
        changes={"customer": enterprise, "category": Category.objects.get(slug="sync")},
    )

    assert incident.first_response_due_at == frozen_now + H
    assert incident.timeline_events.filter(
        kind=TimelineEvent.Kind.SLA_RECOMPUTED
    ).exists()


@pytest.mark.django_db
def test_edit_without_sla_inputs_keeps_deadlines(frozen_now, agent):
    incident = IncidentFactory(priority=Priority.P2)

    services.edit_incident_details(
        incident=incident,
        actor=agent,
        expected_version=incident.version,
        changes={"title": "Clearer title"},
    )

    assert not TimelineEvent.objects.filter(
        incident=incident, kind=TimelineEvent.Kind.SLA_RECOMPUTED
    ).exists()
    assert Incident.objects.get(pk=incident.pk).title == "Clearer title"


@pytest.mark.django_db
def test_a_short_first_response_is_not_at_risk_from_its_first_minute(frozen_now):
    incident = IncidentFactory(priority=Priority.P1)

    # 30 minutes to reply: at risk for its second half, not from the start
    # because resolution targets warn 2 hours ahead.
    assert incident.first_response_at_risk_at == frozen_now + 15 * MIN
    assert incident.resolution_at_risk_at == frozen_now + 2 * H
    clocks = incident_clocks(incident, frozen_now + MIN)
    assert clocks["first_response"] == ClockState.RUNNING


@pytest.mark.django_db
def test_a_target_may_set_its_own_at_risk_window(frozen_now):
    policy = Policy.objects.get(is_default=True)
    policy.targets.filter(priority=Priority.P2).update(
        first_response_at_risk_minutes=10, resolution_at_risk_minutes=240
    )

    incident = IncidentFactory(priority=Priority.P2)

    assert incident.first_response_at_risk_at == frozen_now + 2 * H - 10 * MIN
    assert incident.resolution_at_risk_at == frozen_now + 20 * H


@pytest.mark.django_db
def test_a_resolved_incident_shows_no_running_clock(frozen_now, time_machine):
    incident = IncidentFactory(priority=Priority.P3)
    time_machine.move_to(frozen_now + H, tick=False)
    incident = services.move_incident(
        incident=incident, actor=None, to_status="investigating"
    )
    incident = services.move_incident(
        incident=incident, actor=None, to_status="resolved"
    )

    clocks = incident_clocks(incident, frozen_now + 30 * H)

    assert clocks == {"first_response": ClockState.MET, "resolution": ClockState.MET}
    for state in (ClockState.RUNNING, ClockState.AT_RISK, ClockState.BREACHED):
        listed = Incident.objects.filter(_sla_state_q(state, frozen_now + 30 * H))
        assert incident not in listed
    met = Incident.objects.filter(_sla_state_q(ClockState.MET, frozen_now + 30 * H))
    assert incident in met


@pytest.mark.django_db
def test_resolving_after_the_reply_deadline_without_replying_is_a_breach(
    frozen_now, time_machine
):
    incident = IncidentFactory(priority=Priority.P3)
    time_machine.move_to(frozen_now + 10 * H, tick=False)
    incident = services.move_incident(
        incident=incident, actor=None, to_status="investigating"
    )
    incident = services.move_incident(
        incident=incident, actor=None, to_status="resolved"
    )

    clocks = incident_clocks(incident, frozen_now + 11 * H)

    assert clocks["first_response"] == ClockState.BREACHED
    assert clocks["resolution"] == ClockState.MET
