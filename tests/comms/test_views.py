import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from comms import services
from comms.models import ExternalParty, Message, MessageTemplate
from incidents import services as incident_services
from incidents.models import Priority
from tests.assertions import nested_forms
from tests.factories import (
    CustomerFactory,
    IncidentFactory,
    UserFactory,
    save_test_draft,
    send_test_message,
)


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

    groups = response.context["template_groups"]
    assert [g["audience"] for g in groups] == ["Internal", "Customer", "Partner"]
    due = [
        choice["template"].audience
        for group in groups
        for stage in group["stages"]
        for choice in stage["templates"]
        if choice["is_due"]
    ]
    assert sorted(due) == ["customer", "internal", "partner"]


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
@pytest.mark.parametrize(
    "page",
    [
        "incidents:detail",
        "comms:incident_messages",
        "comms:compose",
        "incidents:closure",
        "escalations:incident_escalations",
        "escalations:incident_credits",
        "escalations:escalate",
    ],
)
def test_no_incident_tab_nests_one_form_in_another(client, manager, page):
    incident = IncidentFactory()

    client.force_login(manager)
    html = client.get(reverse(page, args=[incident.pk])).content.decode()

    assert "<form" in html
    assert nested_forms(html) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 30])
def test_messages_page_query_count_is_constant(
    agent_client, django_assert_num_queries, count
):
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
    # messages, replies, permissions, parties for the reply form, the
    # follow-up loops, the security hold (and an open escalation stopping
    # customer contact), what the portal will write, credits to decide
    with django_assert_num_queries(15):
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


# --- The composer reaches every template -----------------------------------


def _template_keys(response):
    return {
        choice["template"].key
        for group in response.context["template_groups"]
        for stage in group["stages"]
        for choice in stage["templates"]
    }


@pytest.mark.django_db
def test_compose_offers_every_template_that_fits(agent_client):
    incident = IncidentFactory(priority=Priority.P2)

    response = agent_client.get(reverse("comms:compose", args=[incident.pk]))

    keys = _template_keys(response)
    assert {
        "customer-escalation-l2",
        "customer-checking-in",
        "customer-auto-close-waiting",
        "internal-manager-escalation",
        "customer-follow-up-3",
    } <= keys
    # P1-only wording and partners the incident does not involve are left out.
    assert "customer-initial-critical" not in keys
    assert not any(key.startswith("partner-") for key in keys)
    assert b"due next" in response.content


@pytest.mark.django_db
def test_compose_opens_with_the_customer_message_due_next(agent_client):
    incident = IncidentFactory(priority=Priority.P3)

    response = agent_client.get(reverse("comms:compose", args=[incident.pk]))

    initial = response.context["form"].initial
    due = MessageTemplate.objects.get(key="customer-initial")
    assert initial["template_version"] == due.current_version_id
    assert initial["recipients"] == [incident.customer.email]


@pytest.mark.django_db
def test_compose_shows_the_follow_up_number_a_template_would_send(agent, agent_client):
    incident = IncidentFactory(priority=Priority.P3)
    send_test_message(incident, agent, stage="creation", follow_up_number=None)
    send_test_message(incident, agent, follow_up_number=1)

    response = agent_client.get(reverse("comms:compose", args=[incident.pk]))

    numbers = {
        choice["template"].key: choice["follow_up"]
        for group in response.context["template_groups"]
        for stage in group["stages"]
        for choice in stage["templates"]
    }
    assert numbers["customer-follow-up-2"] == 2
    assert numbers["customer-follow-up-1"] == 1
    assert numbers["customer-initial"] is None


@pytest.mark.django_db
def test_compose_prefills_every_affected_customer_and_counts_the_emails(
    agent, agent_client
):
    incident = IncidentFactory(customer=None, is_systemic=True, priority=Priority.P3)
    customers = [CustomerFactory() for _ in range(3)]
    for customer in customers:
        incident_services.add_affected_customer(
            incident=incident, actor=agent, customer=customer
        )
    template = MessageTemplate.objects.get(key="customer-follow-up-1")

    response = agent_client.get(
        reverse("comms:compose", args=[incident.pk]), {"template": template.pk}
    )

    assert response.context["form"].initial["recipients"] == [
        c.email for c in customers
    ]
    assert response.context["email_count"] == 3
    assert b"3 separate e-mails" in response.content


@pytest.mark.django_db
def test_compose_says_what_a_resolution_message_needs(agent_client):
    incident = IncidentFactory(priority=Priority.P3, status="resolved")
    template = MessageTemplate.objects.get(key="customer-resolution")

    response = agent_client.get(
        reverse("comms:compose", args=[incident.pk]), {"template": template.pk}
    )

    page = response.content.decode()
    assert "what the customer is told and what we did to fix it" in page
    assert "Under investigation" not in page
    assert "body" not in response.context["form"].initial


@pytest.mark.django_db
def test_compose_refuses_a_customer_address_as_a_partner_and_keeps_the_text(
    agent_client,
):
    party = ExternalParty.objects.create(
        kind="partner", name="ConnectX", support_email="support@connectx.example"
    )
    incident = IncidentFactory(priority=Priority.P1)
    data = {
        "audience": "partner",
        "channel": "email",
        "stage": "follow_up",
        "party": party.pk,
        "recipients": incident.customer.email,
        "subject": "Please act",
        "body": "My carefully written words.",
        "action": "Send",
    }

    response = agent_client.post(reverse("comms:compose", args=[incident.pk]), data)

    assert response.status_code == 200
    page = response.content.decode()
    assert "is not an address of ConnectX" in page
    assert "My carefully written words." in page
    assert not Message.objects.exists()


# --- Edit, cancel and rework from the pages ---------------------------------


@pytest.mark.django_db
def test_a_draft_is_edited_in_the_composer(agent, agent_client):
    incident = IncidentFactory(priority=Priority.P3)
    send_test_message(incident, agent, stage="creation", follow_up_number=None)

    draft = save_test_draft(
        incident,
        agent,
        follow_up_number=2,
        subject="Draft subject",
        body="Draft body",
    )
    url = reverse("comms:compose", args=[incident.pk])

    page = agent_client.get(url, {"message": draft.pk})
    assert page.context["form"].initial["body"] == "Draft body"
    response = agent_client.post(
        url,
        {
            "message": draft.pk,
            "audience": "customer",
            "channel": "email",
            "stage": "follow_up",
            "follow_up_number": 2,
            "recipients": incident.customer.email,
            "subject": "Draft subject",
            "body": "Finished body",
            "action": "Send",
        },
    )

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.body == "Finished body"
    assert draft.status == Message.Status.QUEUED
    assert Message.objects.filter(incident=incident).count() == 2


@pytest.mark.django_db
def test_a_scheduled_message_is_cancelled_from_the_messages_page(
    agent, agent_client, frozen_now
):
    incident = IncidentFactory(priority=Priority.P3)
    message = send_test_message(incident, agent, send_after=frozen_now.replace(hour=18))
    listing = agent_client.get(reverse("comms:incident_messages", args=[incident.pk]))
    assert b"Cancel message" in listing.content

    response = agent_client.post(
        reverse("comms:cancel", args=[message.pk]), follow=True
    )

    message.refresh_from_db()
    assert message.status == Message.Status.CANCELLED
    assert b"it will not be sent" in response.content


@pytest.mark.django_db
def test_a_rejected_message_is_reworked_into_the_composer(agent, agent_client):
    manager = UserFactory(username="boss", role="Manager")
    incident = IncidentFactory(priority=Priority.P1)
    message = send_test_message(incident, agent, body="First try")
    services.reject_message(message=message, actor=manager, reason="Too vague")

    response = agent_client.post(reverse("comms:rework", args=[message.pk]))

    draft = Message.objects.get(status=Message.Status.DRAFT)
    assert response.url.endswith(f"?message={draft.pk}")
    page = agent_client.get(response.url)
    assert page.context["form"].initial["body"] == "First try"


# --- Approvals page -------------------------------------------------------


@pytest.mark.django_db
def test_the_approvals_page_shows_what_a_manager_decides_on(agent, client):
    manager = UserFactory(username="boss", role="Manager")
    incident = IncidentFactory(customer=None, is_systemic=True, priority=Priority.P2)
    customers = [CustomerFactory() for _ in range(2)]
    for customer in customers:
        incident_services.add_affected_customer(
            incident=incident, actor=agent, customer=customer
        )
    send_test_message(incident, agent, recipients=[c.email for c in customers])
    client.force_login(manager)

    page = client.get(reverse("comms:approvals")).content.decode()

    assert "P2 · High" in page
    assert "New" in page
    assert "SLA running" in page
    assert "2 recipients (one e-mail each)" in page
    assert 'title="1 message waiting for approval"' in page


@pytest.mark.django_db
def test_decided_messages_show_who_decided_and_when(agent, client, frozen_now):
    manager = UserFactory(
        username="boss", role="Manager", first_name="Morgan", last_name="Lee"
    )
    incident = IncidentFactory(priority=Priority.P1)
    message = send_test_message(incident, agent)
    services.reject_message(message=message, actor=manager, reason="Too vague")
    client.force_login(manager)

    page = client.get(reverse("comms:approvals")).content.decode()
    messages_page = client.get(
        reverse("comms:incident_messages", args=[incident.pk])
    ).content.decode()

    assert "Recently decided" in page
    assert "Morgan Lee" in page
    assert "Rejected by Morgan Lee · Nov 18, 12:00" in messages_page


@pytest.mark.django_db
def test_agents_never_run_the_approvals_count(agent_client):
    with CaptureQueriesContext(connection) as queries:
        agent_client.get(reverse("incidents:list"))

    assert not any("awaiting_approval" in q["sql"] for q in queries)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("priority", "expected"),
    [("P1", "Serious and confident."), ("P3", "Helpful and collaborative.")],
)
def test_the_composer_shows_the_policys_tone_for_the_priority(
    agent_client, priority, expected
):
    incident = IncidentFactory(priority=priority)

    page = agent_client.get(reverse("comms:compose", args=[incident.pk]))

    assert expected in page.content.decode()
    assert "Give specific times and commitments." in page.content.decode()


@pytest.mark.django_db
def test_post_incident_text_is_written_calm_and_factual(agent_client):
    incident = IncidentFactory()
    template = MessageTemplate.objects.get(key="customer-post-incident")

    page = agent_client.get(
        reverse("comms:compose", args=[incident.pk]), {"template": template.pk}
    )

    assert "Calm and factual" in page.content.decode()


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


@pytest.mark.django_db
def test_the_closure_tabs_link_opens_the_composer_with_the_resolution_text(
    agent_client,
):
    incident = IncidentFactory(
        priority=Priority.P3,
        status="resolved",
        customer_summary="Trip history was missing for two days.",
        fix_summary="We replayed the stuck sync queue.",
    )

    response = agent_client.get(
        reverse("comms:compose", args=[incident.pk]),
        {"audience": "customer", "channel": "email", "stage": "resolution"},
    )

    initial = response.context["form"].initial
    assert initial["stage"] == "resolution" and initial["audience"] == "customer"
    assert "We replayed the stuck sync queue." in initial["body"]
    assert incident.reference in initial["subject"]


@pytest.mark.django_db
def test_my_works_update_link_opens_the_follow_up_for_that_audience(
    agent, agent_client
):
    incident = IncidentFactory(priority=Priority.P2, owner=agent)

    page = agent_client.get(reverse("home")).content.decode()
    link = reverse("comms:compose", args=[incident.pk]) + "?audience=internal"
    assert link in page

    response = agent_client.get(
        reverse("comms:compose", args=[incident.pk]),
        {"audience": "internal", "stage": "follow_up"},
    )

    initial = response.context["form"].initial
    assert initial["audience"] == "internal"
    assert initial["body"].strip()


@pytest.mark.django_db
def test_the_composer_stops_once_on_a_phrase_the_policy_never_says(agent_client):
    # The carrier escalation guide's "don't say" list, shipped as policy data.
    incident = IncidentFactory(priority=Priority.P3)
    assert incident.policy.name == "Carrier playbook"
    url = reverse("comms:compose", args=[incident.pk])
    data = {
        "audience": "customer",
        "channel": "email",
        "stage": "follow_up",
        "follow_up_number": 1,
        "recipients": incident.customer.email,
        "subject": "Update",
        "body": "Sorry, there\u2019s  nothing I can do before Monday.",
        "action": "Send",
    }

    page = agent_client.get(url).content.decode()
    assert "Never say" in page and "That&#x27;s not my department" in page

    stopped = agent_client.post(url, data)
    assert not Message.objects.exists()
    assert "never to tell a customer" in stopped.content.decode()
    assert "say_it_anyway" in stopped.content.decode()

    agent_client.post(url, {**data, "say_it_anyway": "on"})
    assert Message.objects.get().body.startswith("Sorry, there")


@pytest.mark.django_db
def test_a_phrase_to_avoid_does_not_stop_an_internal_note(agent_client):
    incident = IncidentFactory(priority=Priority.P3)
    url = reverse("comms:compose", args=[incident.pk])

    agent_client.post(
        url,
        {
            "audience": "internal",
            "channel": "note",
            "stage": "follow_up",
            "body": "Customer said: that's not my department, talk to billing.",
            "action": "Send",
        },
    )

    assert Message.objects.filter(audience="internal").exists()


@pytest.mark.django_db
def test_a_draft_with_a_never_say_phrase_is_not_sent_from_the_messages_tab(
    agent, agent_client
):
    incident = IncidentFactory(priority=Priority.P3)
    draft = save_test_draft(
        incident, agent, subject="Sorry", body="You'll have to wait, I'm afraid."
    )

    page = agent_client.post(
        reverse("comms:send_draft", args=[draft.pk]), follow=True
    ).content.decode()

    draft.refresh_from_db()
    assert draft.status == Message.Status.DRAFT
    assert "Open it in the composer" in page
