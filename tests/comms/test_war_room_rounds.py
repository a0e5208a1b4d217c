"""The war room's status round, called by the sweep (fleet playbook, Sev 1
step 5: everyone gives their status every 15 minutes)."""

import datetime as dt

import pytest

from comms import services
from comms.models import Message
from incidents import services as incident_services
from incidents.models import Policy, TimelineEvent
from tests.factories import CustomerFactory, IncidentFactory

MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def war_room(agent, frozen_now):
    fleet = Policy.objects.get(name="Fleet SaaS")
    assert fleet.war_room_status_minutes == 15
    incident = IncidentFactory(
        priority="P1",
        status="investigating",
        customer=CustomerFactory(policy=fleet),
        title="Trip sync down for every fleet",
    )
    return incident_services.run_war_room(
        incident=incident,
        actor=agent,
        call_url="https://meet.example.com/sev1",
        commander=agent,
    )


def _rounds(incident):
    return Message.objects.filter(
        incident=incident, audience="internal", channel="chat"
    ).filter(subject__startswith="Status round")


@pytest.mark.django_db
def test_the_sweep_calls_each_status_round_once_on_time(war_room, frozen_now, agent):
    assert services.due_work(frozen_now + 14 * MINUTE)["war_room_rounds"] == 0
    assert services.due_work(frozen_now + 15 * MINUTE)["war_room_rounds"] == 1
    assert services.due_work(frozen_now + 15 * MINUTE)["war_room_rounds"] == 0
    assert services.due_work(frozen_now + 29 * MINUTE)["war_room_rounds"] == 0
    assert services.due_work(frozen_now + 30 * MINUTE)["war_room_rounds"] == 1

    (latest, first) = _rounds(war_room)
    assert "Everyone in the war room" in first.body
    assert "https://meet.example.com/sev1" in first.body
    assert agent.get_full_name() in first.body
    assert first.recipients and first.recipients[0].startswith("#")
    assert (
        war_room.timeline_events.filter(kind=TimelineEvent.Kind.WAR_ROOM).count() == 3
    )  # opened, then two rounds


@pytest.mark.django_db
def test_no_round_is_called_once_the_incident_is_resolved(war_room, frozen_now, agent):
    incident_services.resolve_incident(
        incident=war_room,
        actor=agent,
        root_cause="A stuck queue.",
        fix_summary="We restarted the queue.",
        customer_summary="Trip sync was delayed.",
        verification=["system_check"],
    )

    assert services.due_work(frozen_now + 60 * MINUTE)["war_room_rounds"] == 0
    assert not _rounds(war_room).exists()


@pytest.mark.django_db
def test_the_incident_page_says_when_the_next_round_is(war_room, agent_client):
    page = agent_client.get(war_room.get_absolute_url()).content.decode()

    assert "the portal calls each round" in page
    assert "the next at <strong>" in page


@pytest.mark.django_db
def test_an_interval_of_zero_calls_no_rounds(war_room, frozen_now):
    Policy.objects.filter(pk=war_room.policy_id).update(war_room_status_minutes=0)

    assert services.due_work(frozen_now + 60 * MINUTE)["war_room_rounds"] == 0


@pytest.mark.django_db
def test_a_sev_1_downgraded_gets_no_more_rounds(war_room, frozen_now):
    from incidents.models import Incident

    Incident.objects.filter(pk=war_room.pk).update(priority="P2")

    assert services.due_work(frozen_now + 60 * MINUTE)["war_room_rounds"] == 0
