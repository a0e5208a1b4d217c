"""The tag scheme the portal applies by itself.

From the tagging rules of the carrier communication playbook and the carrier
escalation guide.
"""

import datetime as dt

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import Incident, Signal, TimelineEvent
from tests.factories import IncidentFactory

H = dt.timedelta(hours=1)


@pytest.mark.django_db
def test_a_new_incident_carries_the_standard_tags():
    incident = IncidentFactory(priority="P1", signal=Signal.objects.get(code="SIG-003"))

    assert incident.tags == [
        "incident",
        "severity_critical",
        "proactive_alert",
        "signal_sig-003",
        "esim",
        "in_progress",
        "priority_high",
    ]


@pytest.mark.django_db
def test_resolving_swaps_in_progress_for_resolved_on_the_timeline(agent):
    incident = IncidentFactory(extra_tags=["needs_callback"])

    incident = services.move_incident(
        incident=incident, actor=agent, to_status="investigating"
    )
    incident = services.move_incident(
        incident=incident, actor=agent, to_status="resolved"
    )

    assert "resolved" in incident.tags
    assert "in_progress" not in incident.tags
    assert "needs_callback" in incident.tags
    event = incident.timeline_events.latest("id")
    assert event.details["changes"]["tags"][1] == incident.tags


@pytest.mark.django_db
def test_the_sweep_tags_incidents_stuck_over_48_hours(frozen_now, time_machine):
    stuck = IncidentFactory()
    time_machine.move_to(frozen_now + 30 * H, tick=False)
    recent = IncidentFactory()
    time_machine.move_to(frozen_now + 49 * H, tick=False)

    done = services.due_work(frozen_now + 49 * H)
    again = services.due_work(frozen_now + 49 * H)

    stuck.refresh_from_db()
    recent.refresh_from_db()
    assert "slo_at_risk" in stuck.tags
    assert "slo_at_risk" not in recent.tags
    assert done["slo_at_risk"] == 1
    assert again["slo_at_risk"] == 0
    assert stuck.timeline_events.filter(
        kind=TimelineEvent.Kind.EDITED, actor=None
    ).exists()


@pytest.mark.django_db
def test_an_edit_keeps_the_portals_tags_and_a_persons(agent):
    incident = IncidentFactory(priority="P1")

    incident = services.edit_incident_details(
        incident=incident,
        actor=agent,
        expected_version=incident.version,
        changes={"priority": "P2"},
        extra_tags=["vip_watch"],
    )

    assert "priority_high" not in incident.tags
    assert {"severity_high", "in_progress", "vip_watch"} <= set(incident.tags)


@pytest.mark.django_db
def test_the_list_filters_by_tag(agent_client):
    critical = IncidentFactory(priority="P1")
    IncidentFactory(priority="P3")

    response = agent_client.get(reverse("incidents:list"), {"tag": "priority_high"})

    assert [row[0] for row in response.context["rows"]] == [critical]
    assert Incident.objects.count() == 2
