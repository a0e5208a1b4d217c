"""A message is decided when it leaves, not when it was written."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from comms import services
from comms.models import Message, MessageTemplate
from comms.services import delivery
from incidents import services as incident_services
from incidents.models import Priority, TimelineEvent
from tests.factories import IncidentFactory, send_test_message

pytestmark = pytest.mark.django_db
M = dt.timedelta(minutes=1)


def portal_notice(incident, *, key="customer-checking-in", body=None):
    """Have the portal write a customer notice by itself from ``key``."""
    template = MessageTemplate.objects.get(key=key)
    version = template.current_version
    if body is not None:
        version = services.revise_template(
            template=template, subject=version.subject, body=body, actor=None
        )
    return services.send_template(
        incident=incident,
        version=version,
        actor=None,
        audience="customer",
        channel="email",
        stage=template.stage,
        situation=template.situation,
        recipients=[incident.customer.email],
    )


def test_a_portal_notice_waits_on_the_incident_before_it_leaves(frozen_now):
    incident = IncidentFactory(priority=Priority.P3)

    notice = portal_notice(incident)

    assert notice.status == Message.Status.SCHEDULED
    assert notice.send_after == frozen_now + 5 * M
    assert notice.renders_on_send


def test_a_portal_notice_is_written_again_from_the_incident_as_it_leaves(
    frozen_now, time_machine, smtp_server
):
    incident = IncidentFactory(priority=Priority.P3, title="Old title")
    notice = portal_notice(incident, body="About: {{ incident.title }}")
    assert "Old title" in notice.body
    incident.refresh_from_db()
    incident_services.edit_incident_details(
        incident=incident,
        actor=None,
        expected_version=incident.version,
        changes={"title": "New title"},
    )

    time_machine.move_to(frozen_now + 6 * M, tick=False)
    services.due_work(frozen_now + 6 * M)
    delivery.deliver_message(message_id=notice.pk)

    notice.refresh_from_db()
    assert notice.status == Message.Status.SENT
    assert notice.body == "About: New title"


def test_a_held_update_is_withdrawn_when_the_incident_is_resolved(
    agent, manager, frozen_now
):
    incident = IncidentFactory(priority=Priority.P1)
    update = send_test_message(incident, agent)
    assert update.status == Message.Status.AWAITING_APPROVAL
    incident_services.move_incident(
        incident=incident, actor=None, to_status="investigating"
    )
    incident_services.move_incident(incident=incident, actor=None, to_status="resolved")

    done = services.due_work(frozen_now + M)

    update.refresh_from_db()
    assert done["withdrawn"] == 1
    assert update.status == Message.Status.WITHDRAWN
    assert "resolved now" in update.status_reason
    assert TimelineEvent.objects.filter(
        incident=incident, kind=TimelineEvent.Kind.MESSAGE_WITHDRAWN
    ).exists()


def test_approving_an_overtaken_message_withdraws_it_and_says_why(
    agent, other_agent, manager
):
    incident = IncidentFactory(priority=Priority.P1)
    older = send_test_message(incident, agent, follow_up_number=2)
    newer = send_test_message(incident, other_agent, follow_up_number=3)

    result = services.approve_message(message=older, actor=manager)

    assert result.status == Message.Status.WITHDRAWN
    assert f"message {newer.pk}" in result.status_reason


def test_two_portal_notices_in_a_row_reach_the_customer_once(frozen_now):
    incident = IncidentFactory(priority=Priority.P3)
    first = portal_notice(incident)
    second = portal_notice(incident)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Message.Status.WITHDRAWN
    assert second.status == Message.Status.SCHEDULED


def test_hold_and_send_now_act_on_a_scheduled_notice(agent, frozen_now):
    incident = IncidentFactory(priority=Priority.P3)
    held = portal_notice(incident)
    early = portal_notice(incident, key="customer-escalation-l2")

    services.hold_message(message=held, actor=agent)
    services.send_message_now(message=early, actor=agent)

    held.refresh_from_db()
    early.refresh_from_db()
    assert held.status == Message.Status.DRAFT
    assert early.status == Message.Status.QUEUED


def test_retrying_an_old_failed_message_asks_first(agent, client, frozen_now):
    client.force_login(agent)
    incident = IncidentFactory(priority=Priority.P3)
    message = send_test_message(incident, agent)
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.FAILED, last_error="mailbox full"
    )
    incident_services.move_incident(
        incident=incident, actor=None, to_status="investigating"
    )
    incident_services.move_incident(incident=incident, actor=None, to_status="resolved")

    with pytest.raises(ValidationError) as exc_info:
        services.retry_message(message=message, actor=agent)
    page = client.post(reverse("comms:retry", args=[message.pk]))

    assert exc_info.value.code == "confirm_retry"
    assert "resolved now" in exc_info.value.messages[0]
    assert page.status_code == 200
    assert "Send it as it stands" in page.content.decode()
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED

    client.post(reverse("comms:retry", args=[message.pk]), {"confirmed": "yes"})

    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED


def test_my_work_and_the_incident_say_what_the_portal_will_write_and_when(
    agent, client, frozen_now
):
    incident = IncidentFactory(priority=Priority.P3, owner=agent)
    portal_notice(incident)
    client.force_login(agent)

    home = client.get(reverse("home")).content.decode()
    page = client.get(reverse("comms:incident_messages", args=[incident.pk]))

    assert "The portal will write" in home and incident.reference in home
    assert "the portal will write to the customer" in page.content.decode()
    assert reverse("comms:send_now", args=[Message.objects.get().pk]) in home
