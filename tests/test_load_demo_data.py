"""The demo shows every state, and loading it again changes nothing."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from comms.models import Message, Reply
from incidents.models import AffectedCustomer, Incident, TimelineEvent
from incidents.selectors import incident_clocks, overall_clock_state
from incidents.sla import ClockState

SHOWN_MESSAGE_STATES = {
    Message.Status.DRAFT,
    Message.Status.AWAITING_APPROVAL,
    Message.Status.SCHEDULED,
    Message.Status.SENT,
    Message.Status.FAILED,
    Message.Status.SUPPRESSED,
    Message.Status.REJECTED,
}


def _counts():
    return {
        model.__name__: model.objects.count()
        for model in (Incident, Message, Reply, AffectedCustomer, TimelineEvent)
    }


@pytest.mark.django_db
def test_demo_shows_every_status_sla_state_and_message_state(frozen_now):
    call_command("load_demo_data", verbosity=0)

    incidents = list(Incident.objects.all())
    now = timezone.now()
    sla_states = {overall_clock_state(incident_clocks(i, now)) for i in incidents}
    assert sla_states == set(ClockState)
    assert {i.status for i in incidents} == set(Incident.Status.values)
    assert set(Message.objects.values_list("status", flat=True)) == (
        SHOWN_MESSAGE_STATES
    )
    assert Message.objects.filter(status=Message.Status.FAILED).get().last_error
    assert Message.objects.filter(status=Message.Status.AWAITING_APPROVAL).count() >= 2
    systemic = Incident.objects.get(is_systemic=True)
    assert systemic.affected_customers.count() >= 3
    assert Reply.objects.filter(kind=Reply.Kind.CONFIRMED).exists()


@pytest.mark.django_db
def test_demo_loads_once_even_after_an_incident_is_renamed(frozen_now, time_machine):
    call_command("load_demo_data", verbosity=0)
    before = _counts()
    Incident.objects.filter(title__startswith="eSIM stuck").update(
        title="Renamed by an agent"
    )
    time_machine.shift(3600)

    call_command("load_demo_data", verbosity=0)

    assert _counts() == before
    assert Incident.objects.filter(title="Renamed by an agent").count() == 1


@pytest.mark.django_db
def test_the_demo_fleet_sev_1_is_on_the_demo_status_page(frozen_now, client):
    """Issue 27: published, approved by the manager, and read by anyone."""
    call_command("load_demo_data", verbosity=0)

    page = client.get("/status/fleet/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "Trip logs are not reaching the dashboard" in html
    assert "Major outage" in html
    fleet_sev1 = Incident.objects.get(title__startswith="Trip logs stopped")
    assert fleet_sev1.reference not in html  # nothing internal
    assert "Database upgrade" in html  # the scheduled maintenance
