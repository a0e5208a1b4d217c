import pytest
from django.urls import reverse

from comms.models import Message, MessageTemplate
from incidents.models import Priority
from tests.factories import IncidentFactory, UserFactory, send_test_message


@pytest.mark.django_db
def test_compose_prefills_the_rendered_template_and_recipients(agent_client):
    incident = IncidentFactory(priority=Priority.P3)
    template = MessageTemplate.objects.get(key="customer-follow-up-2")

    response = agent_client.get(
        reverse("comms:compose", args=[incident.pk]),
        {"template": template.pk, "follow_up": 2},
    )

    form = response.context["form"]
    assert form.initial["recipients"] == [incident.customer.email]
    assert incident.reference in form.initial["subject"]
    assert incident.customer.name.split()[0] in form.initial["body"]
    assert form.initial["template_version"] == template.current_version_id


@pytest.mark.django_db
def test_compose_suggests_a_message_for_each_involved_audience(agent_client):
    incident = IncidentFactory(
        is_partner_action_needed=True, partner_action_details="Re-push profile"
    )

    response = agent_client.get(reverse("comms:compose", args=[incident.pk]))

    audiences = [s["audience"] for s in response.context["suggestions"]]
    assert audiences == ["internal", "customer", "partner"]
    assert all(s["template"] for s in response.context["suggestions"])


@pytest.mark.django_db
def test_compose_sends_and_lists_the_message(agent_client):
    incident = IncidentFactory(priority=Priority.P3)
    data = {
        "audience": "customer",
        "channel": "email",
        "stage": "follow_up",
        "follow_up_number": 1,
        "recipients": incident.customer.email,
        "subject": "Hello",
        "body": "Still on it.",
        "action": "Send",
    }

    response = agent_client.post(
        reverse("comms:compose", args=[incident.pk]), data, follow=True
    )

    message = Message.objects.get()
    assert message.status == Message.Status.QUEUED
    assert "Queued for delivery." in response.content.decode()


@pytest.mark.django_db
def test_compose_saves_a_draft(agent_client):
    incident = IncidentFactory()
    data = {
        "audience": "internal",
        "channel": "note",
        "stage": "follow_up",
        "recipients": "",
        "body": "Thinking out loud.",
        "action": "Save draft",
    }

    agent_client.post(reverse("comms:compose", args=[incident.pk]), data)

    assert Message.objects.get().status == Message.Status.DRAFT


@pytest.mark.django_db
def test_compose_shows_a_bad_address_on_the_form(agent_client):
    incident = IncidentFactory()
    data = {
        "audience": "customer",
        "channel": "email",
        "stage": "follow_up",
        "recipients": "not an address",
        "subject": "Hi",
        "body": "x",
        "action": "Send",
    }

    response = agent_client.post(reverse("comms:compose", args=[incident.pk]), data)

    assert response.status_code == 200
    assert "is not a valid e-mail address" in response.content.decode()
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_approval_queue_is_for_managers(client, agent):
    manager = UserFactory(role="Manager")
    client.force_login(agent)
    assert client.get(reverse("comms:approvals")).status_code == 403

    client.force_login(manager)
    assert client.get(reverse("comms:approvals")).status_code == 200


@pytest.mark.django_db
def test_manager_approves_from_the_queue(client, agent):
    incident = IncidentFactory(priority=Priority.P1)
    message = send_test_message(incident, agent, subject="S", body="B")
    manager = UserFactory(role="Manager")
    client.force_login(manager)

    response = client.post(
        reverse("comms:approve", args=[message.pk]),
        {f"{message.pk}-subject": "S", f"{message.pk}-body": "B, approved"},
        follow=True,
    )

    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED
    assert message.body == "B, approved"
    assert "Approved." in response.content.decode()


@pytest.mark.django_db
def test_messages_page_logs_a_reply(agent_client):
    incident = IncidentFactory()

    response = agent_client.post(
        reverse("comms:log_reply", args=[incident.pk]),
        {"sender_kind": "customer", "kind": "reply", "text": "Still broken"},
        follow=True,
    )

    assert "Still broken" in response.content.decode()
    assert incident.replies.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 30])
def test_messages_page_query_count_is_constant(
    agent_client, django_assert_num_queries, count
):
    from comms import services

    incident = IncidentFactory()
    for n in range(count):
        services.save_draft(
            incident=incident,
            actor=None,
            audience="internal",
            channel="note",
            stage="follow_up",
            situation="",
            follow_up_number=n + 1,
            party=None,
            recipients=[],
            subject="",
            body=f"note {n}",
            send_after=None,
            template_version=None,
        )
        services.log_reply(
            incident=incident, actor=None, sender_kind="customer", text=f"reply {n}"
        )

    # session, user, incident, sent counts, a template lookup per audience (2),
    # messages, replies, permissions (2), parties for the reply form
    with django_assert_num_queries(11):
        response = agent_client.get(
            reverse("comms:incident_messages", args=[incident.pk])
        )

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"template": "1", "follow_up": "abc"},
        {"template": "²"},
        {"party": "²", "audience": "partner"},
        {"audience": "martian", "channel": "pigeon", "follow_up": "70000"},
    ],
)
def test_compose_ignores_nonsense_in_the_query_string(agent_client, params):
    incident = IncidentFactory()

    response = agent_client.get(reverse("comms:compose", args=[incident.pk]), params)

    assert response.status_code == 200


@pytest.mark.django_db
def test_compose_refuses_an_absurd_follow_up_number(agent_client):
    incident = IncidentFactory()
    data = {
        "audience": "internal",
        "channel": "note",
        "stage": "follow_up",
        "follow_up_number": "70000",
        "body": "x",
        "action": "Send",
    }

    response = agent_client.post(reverse("comms:compose", args=[incident.pk]), data)

    assert response.status_code == 200
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_compose_from_a_partner_template_fills_in_the_partner(agent_client):
    from comms.models import ExternalParty

    party = ExternalParty.objects.create(
        kind="partner",
        name="ConnectX",
        support_email="noc@connectx.example",
        account_ref="CX-20418",
    )
    incident = IncidentFactory()
    template = MessageTemplate.objects.get(key="partner-initial")

    response = agent_client.get(
        reverse("comms:compose", args=[incident.pk]), {"template": template.pk}
    )

    form = response.context["form"]
    assert form.initial["audience"] == "partner"
    assert form.initial["party"] == party
    assert form.initial["recipients"] == ["noc@connectx.example"]
    assert "CX-20418" in form.initial["body"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("channel", "recipients"), [("note", "team\x00"), ("chat", "#cs-\x00urgent")]
)
def test_compose_refuses_a_nul_byte_in_the_recipients(
    agent_client, channel, recipients
):
    incident = IncidentFactory()
    data = {
        "audience": "internal",
        "channel": channel,
        "stage": "follow_up",
        "recipients": recipients,
        "body": "Heads up.",
        "action": "Send",
    }

    response = agent_client.post(reverse("comms:compose", args=[incident.pk]), data)

    assert response.status_code == 200
    assert response.context["form"].errors["recipients"]
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_compose_refuses_a_body_past_its_limit_and_says_the_limit(agent_client):
    incident = IncidentFactory()
    data = {
        "audience": "internal",
        "channel": "note",
        "stage": "follow_up",
        "body": "x" * 20_001,
        "action": "Send",
    }

    response = agent_client.post(reverse("comms:compose", args=[incident.pk]), data)

    assert response.status_code == 200
    assert response.context["form"].errors["body"]
    assert "Up to 20,000 characters." in response.content.decode()
    assert not Message.objects.exists()
