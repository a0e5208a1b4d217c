"""Who a message may reach, when it waits, and what can change before it leaves."""

import email

import pytest
from django.core.exceptions import ValidationError

from comms import services
from comms.models import DeliveryRule, ExternalParty, Message
from incidents import services as incident_services
from incidents.models import Incident, Priority, TimelineEvent
from tests.assertions import error_codes
from tests.factories import (
    CustomerFactory,
    IncidentFactory,
    message_fields,
    save_test_draft,
    send_test_message,
)


@pytest.fixture
def connectx(db):
    return ExternalParty.objects.create(
        kind="partner",
        name="ConnectX",
        support_email="support@connectx.example",
        escalation_email="escalations@connectx.example",
        domains="noc.connectx.example",
    )


def _partner_message(incident, actor, party, recipients, **overrides):
    return send_test_message(
        incident,
        actor,
        audience="partner",
        party=party,
        recipients=recipients,
        **overrides,
    )


# --- Recipients decide the rules -------------------------------------------


@pytest.mark.django_db
def test_customer_address_under_the_partner_audience_is_refused_on_p1(agent, connectx):
    incident = IncidentFactory(priority=Priority.P1)

    with pytest.raises(ValidationError) as exc_info:
        _partner_message(incident, agent, connectx, [incident.customer.email])

    assert error_codes(exc_info.value) == {"not_party_address"}
    assert "customer audience" in str(exc_info.value)
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_partner_address_not_on_the_partys_list_is_refused(agent, connectx):
    incident = IncidentFactory(priority=Priority.P3)

    with pytest.raises(ValidationError) as exc_info:
        _partner_message(incident, agent, connectx, ["ops@elsewhere.example"])

    assert error_codes(exc_info.value) == {"not_party_address"}
    assert not Message.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "address",
    [
        "support@connectx.example",
        "Escalations@ConnectX.example",
        "duty-manager@noc.connectx.example",
    ],
)
def test_partner_contacts_and_domains_may_receive_partner_messages(
    agent, connectx, address
):
    incident = IncidentFactory(priority=Priority.P3)

    message = _partner_message(incident, agent, connectx, [address])

    assert message.status == Message.Status.QUEUED


@pytest.mark.django_db
def test_a_delivery_rule_can_hold_partner_messages_for_approval(agent, connectx):
    DeliveryRule.objects.create(audience="partner", mode=DeliveryRule.Mode.APPROVAL)
    incident = IncidentFactory(priority=Priority.P3)

    message = _partner_message(incident, agent, connectx, [connectx.support_email])

    assert message.status == Message.Status.AWAITING_APPROVAL


@pytest.mark.django_db
def test_partner_messages_go_at_once_under_the_shipped_rules(agent, connectx):
    incident = IncidentFactory(priority=Priority.P1)

    message = _partner_message(incident, agent, connectx, [connectx.support_email])

    assert message.status == Message.Status.QUEUED


# --- One e-mail per customer -----------------------------------------------


def _systemic_with_customers(actor, count):
    incident = IncidentFactory(customer=None, is_systemic=True, priority=Priority.P3)
    customers = [CustomerFactory() for _ in range(count)]
    for customer in customers:
        incident_services.add_affected_customer(
            incident=incident, actor=actor, customer=customer
        )
    return incident, customers


@pytest.mark.django_db
def test_a_systemic_message_leaves_as_one_email_per_customer(
    agent, manager, smtp_server, q2_sync, django_capture_on_commit_callbacks
):
    incident, customers = _systemic_with_customers(agent, 3)
    addresses = [c.email for c in customers]
    message = send_test_message(incident, agent, recipients=addresses)
    assert message.status == Message.Status.AWAITING_APPROVAL

    with django_capture_on_commit_callbacks(execute=True):
        services.approve_message(message=message, actor=manager)

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert len(smtp_server.messages) == 3
    for envelope, address in zip(smtp_server.messages, addresses, strict=True):
        assert envelope.rcpt_tos == [address]
        headers = email.message_from_bytes(envelope.content)
        assert headers["To"] == address
        assert headers["Cc"] is None
        others = set(addresses) - {address}
        assert not any(other in envelope.content.decode() for other in others)
    assert message.delivered_to == addresses


@pytest.mark.django_db
def test_a_retry_skips_customers_who_already_got_the_email(agent, smtp_server):
    incident, customers = _systemic_with_customers(agent, 3)
    addresses = [c.email for c in customers]
    message = Message.objects.create(
        incident=incident,
        audience="customer",
        channel="email",
        stage="follow_up",
        recipients=addresses,
        delivered_to=addresses[:1],
        subject="Update",
        body="Still on it.",
        status=Message.Status.QUEUED,
    )

    services.deliver_message(message_id=message.pk)

    assert [e.rcpt_tos for e in smtp_server.messages] == [[a] for a in addresses[1:]]


@pytest.mark.django_db
def test_an_address_typed_twice_gets_one_email(agent, smtp_server):
    incident = IncidentFactory(priority=Priority.P3)
    address = incident.customer.email
    message = send_test_message(incident, agent, recipients=[address, address.upper()])

    services.deliver_message(message_id=message.pk)

    assert message.recipients == [address]
    assert [e.rcpt_tos for e in smtp_server.messages] == [[address]]


@pytest.mark.django_db
def test_a_partner_gets_one_email_for_all_its_addresses(agent, connectx, smtp_server):
    incident = IncidentFactory(priority=Priority.P3)
    message = _partner_message(
        incident,
        agent,
        connectx,
        [connectx.support_email, connectx.escalation_email],
    )

    services.deliver_message(message_id=message.pk)

    assert len(smtp_server.messages) == 1
    assert sorted(smtp_server.messages[0].rcpt_tos) == sorted(
        [connectx.support_email, connectx.escalation_email]
    )


# --- Resolution facts and closing notices -----------------------------------


@pytest.mark.django_db
def test_a_resolution_message_without_a_customer_summary_is_refused(agent):
    incident = IncidentFactory(fix_summary="We issued a new eSIM.")

    with pytest.raises(ValidationError) as exc_info:
        send_test_message(incident, agent, stage="resolution", follow_up_number=None)

    assert error_codes(exc_info.value) == {"resolution_facts_missing"}
    assert "what the customer is told" in str(exc_info.value)
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_closed_pending_notice_is_sent_once(agent):
    incident = IncidentFactory(status=Incident.Status.CLOSED_PENDING)
    closing = {"stage": "auto_close", "situation": "waiting_on_customer"}
    first = send_test_message(incident, agent, follow_up_number=None, **closing)

    again = send_test_message(incident, agent, follow_up_number=None, **closing)

    assert first.status == Message.Status.QUEUED
    assert again.status == Message.Status.SUPPRESSED
    assert "this closing" in again.status_reason


@pytest.mark.django_db
def test_a_closing_notice_does_not_silence_another_incidents(agent):
    first = IncidentFactory(status=Incident.Status.CLOSED, root_cause="Bad profile")
    second = IncidentFactory(
        customer=first.customer, status=Incident.Status.CLOSED, root_cause="Bad profile"
    )
    closing = {"stage": "closure", "follow_up_number": None}
    send_test_message(first, agent, **closing)

    other = send_test_message(second, agent, **closing)

    assert other.status == Message.Status.QUEUED


# --- Edit, cancel, rework ----------------------------------------------------


@pytest.mark.django_db
def test_a_draft_can_be_edited_then_sent(agent):
    incident = IncidentFactory(priority=Priority.P3)
    draft = save_test_draft(incident, agent)

    sent = services.revise_message(
        message=draft,
        actor=agent,
        send=True,
        **message_fields(incident, body="Better words."),
    )

    assert sent.pk == draft.pk
    assert sent.body == "Better words."
    assert sent.status == Message.Status.QUEUED
    edited = incident.timeline_events.get(kind=TimelineEvent.Kind.MESSAGE_EDITED)
    assert edited.details["fields"] == ["body"]


@pytest.mark.django_db
def test_a_scheduled_message_can_be_edited_until_it_leaves(agent, frozen_now):
    incident = IncidentFactory(priority=Priority.P3)
    later = frozen_now.replace(hour=18)
    scheduled = send_test_message(incident, agent, send_after=later)
    assert scheduled.status == Message.Status.SCHEDULED

    edited = services.revise_message(
        message=scheduled,
        actor=agent,
        send=True,
        **message_fields(incident, body="Edited.", send_after=later),
    )

    assert edited.status == Message.Status.SCHEDULED
    assert edited.body == "Edited."


@pytest.mark.django_db
def test_editing_keeps_the_rules_of_a_new_message(agent, connectx):
    incident = IncidentFactory(priority=Priority.P3)
    draft = save_test_draft(incident, agent)

    with pytest.raises(ValidationError) as exc_info:
        services.revise_message(
            message=draft,
            actor=agent,
            send=True,
            **message_fields(
                incident,
                audience="partner",
                party=connectx,
                recipients=[incident.customer.email],
            ),
        )

    assert error_codes(exc_info.value) == {"not_party_address"}
    draft.refresh_from_db()
    assert draft.audience == "customer"
    assert draft.status == Message.Status.DRAFT


@pytest.mark.django_db
def test_a_scheduled_message_can_be_cancelled(agent, frozen_now):
    incident = IncidentFactory(priority=Priority.P3)
    scheduled = send_test_message(
        incident, agent, send_after=frozen_now.replace(hour=18)
    )

    cancelled = services.cancel_message(message=scheduled, actor=agent)

    assert cancelled.status == Message.Status.CANCELLED
    assert services.due_work(frozen_now.replace(hour=19))["released"] == 0
    assert incident.timeline_events.filter(
        kind=TimelineEvent.Kind.MESSAGE_CANCELLED
    ).exists()


@pytest.mark.django_db
def test_a_message_that_already_left_cannot_be_cancelled(agent, frozen_now):
    incident = IncidentFactory(priority=Priority.P3)
    scheduled = send_test_message(
        incident, agent, send_after=frozen_now.replace(hour=13)
    )
    services.due_work(frozen_now.replace(hour=14))

    with pytest.raises(ValidationError) as exc_info:
        services.cancel_message(message=scheduled, actor=agent)

    assert error_codes(exc_info.value) == {"already_left"}
    scheduled.refresh_from_db()
    assert scheduled.status == Message.Status.QUEUED


@pytest.mark.django_db
def test_a_rejected_message_can_be_reworked_into_a_new_draft(agent, manager):
    incident = IncidentFactory(priority=Priority.P1)
    message = send_test_message(incident, agent, body="Too blunt.")
    services.reject_message(message=message, actor=manager, reason="Soften it.")

    draft = services.rework_message(message=message, actor=agent)

    assert draft.pk != message.pk
    assert draft.status == Message.Status.DRAFT
    assert draft.body == "Too blunt."
    assert draft.recipients == message.recipients
    message.refresh_from_db()
    assert message.status == Message.Status.REJECTED
