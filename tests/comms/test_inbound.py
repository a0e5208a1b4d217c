import json
import smtplib
import socket
from email.message import EmailMessage

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from comms import mail_threads, services
from comms.models import FollowUpLoop, InboundMail, Reply
from incidents.models import Incident, Priority, TimelineEvent
from portal.management.commands.receive_mail import receiver
from tests.factories import IncidentFactory, send_test_message

SECRET = "hook-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stamped_id(message) -> str:
    return mail_threads.message_id_header(message.pk)


def post_mail(client, payload, secret=SECRET):
    return client.post(
        reverse("comms:inbound_mail_webhook"),
        data=json.dumps(payload) if not isinstance(payload, str) else payload,
        content_type="application/json",
        headers={"X-Switchboard-Secret": secret} if secret else {},
    )


@pytest.fixture
def webhook(settings):
    settings.INBOUND_MAIL_SECRET = SECRET
    settings.EMAIL_MESSAGE_ID_DOMAIN = "switchboard.local"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_reply_sent_back_over_smtp_lands_on_its_incident(
    agent, smtp_server, settings, q2_sync, django_capture_on_commit_callbacks
):
    settings.EMAIL_MESSAGE_ID_DOMAIN = "switchboard.local"
    incident = IncidentFactory(priority=Priority.P3)
    services.due_work(incident.created_at)
    with django_capture_on_commit_callbacks(execute=True):
        sent = send_test_message(incident, agent)
    outbound = smtp_server.messages[0].content.decode()
    assert stamped_id(sent) in outbound
    inbound = receiver("127.0.0.1", _free_port())
    inbound.start()
    reply = EmailMessage()
    reply["From"] = f"Jane <{incident.customer.email}>"
    reply["To"] = "switchboard@localhost"
    reply["Subject"] = f"Re: Update on {incident.reference}"
    reply["Message-ID"] = "<reply-1@customer.example>"
    reply["In-Reply-To"] = stamped_id(sent)
    reply["References"] = stamped_id(sent)
    reply.set_content(
        "It works again, thanks!\n\nOn Monday you wrote:\n> We are on it."
    )

    try:
        with smtplib.SMTP("127.0.0.1", inbound.port, timeout=10) as smtp:
            smtp.send_message(reply)
    finally:
        inbound.stop()

    landed = Reply.objects.get(incident=incident)
    assert landed.sender_kind == "customer"
    assert landed.text == "It works again, thanks!"
    assert landed.kind == Reply.Kind.REPLY  # the default policy trusts no keyword
    mail = InboundMail.objects.get()
    assert (mail.status, mail.matched_by, mail.source) == ("matched", "header", "smtp")
    assert TimelineEvent.objects.filter(
        incident=incident, kind=TimelineEvent.Kind.REPLY_RECEIVED
    ).exists()
    loop = FollowUpLoop.objects.get(incident=incident, audience="customer")
    assert loop.last_reply_at == landed.received_at


@pytest.mark.django_db
def test_the_webhook_threads_a_postmark_reply_by_its_headers(client, agent, webhook):
    incident = IncidentFactory()
    sent = send_test_message(incident, agent)

    response = post_mail(
        client,
        {
            "From": incident.customer.email,
            "FromName": "Jane",
            "To": "support@switchboard.example",
            "Subject": "Re: update",
            "TextBody": "Still broken here.\n> quoted",
            "MessageID": "pm-1",
            "Headers": [{"Name": "In-Reply-To", "Value": stamped_id(sent)}],
        },
    )

    assert response.status_code == 200
    assert response.json()["incident"] == incident.reference
    assert incident.replies.get().text == "Still broken here."


@pytest.mark.django_db
def test_a_provider_retrying_the_same_mail_logs_one_reply(client, agent, webhook):
    incident = IncidentFactory()
    sent = send_test_message(incident, agent)
    payload = {
        "from": incident.customer.email,
        "subject": "Re: update",
        "text": "Any news?",
        "message_id": "<same@mail>",
        "in_reply_to": stamped_id(sent),
    }

    post_mail(client, payload)
    post_mail(client, payload)

    assert incident.replies.count() == 1
    assert InboundMail.objects.count() == 1


@pytest.mark.django_db
def test_a_signed_reply_address_threads_when_headers_are_missing(
    client, agent, webhook, settings
):
    settings.INBOUND_REPLY_ADDRESS = "replies@switchboard.example"
    incident = IncidentFactory()
    sent = send_test_message(incident, agent)
    address = mail_threads.reply_address(sent.pk)

    post_mail(client, {"from": incident.customer.email, "to": address, "text": "Hi"})

    mail = InboundMail.objects.get()
    assert (mail.incident, mail.matched_by) == (incident, "reply address")


@pytest.mark.django_db
def test_a_forged_reply_address_does_not_thread(client, agent, webhook, settings):
    settings.INBOUND_REPLY_ADDRESS = "replies@switchboard.example"
    incident = IncidentFactory()
    sent = send_test_message(incident, agent)

    post_mail(
        client,
        {
            "from": "x@evil.example",
            "to": f"replies+{sent.pk}-000000000000@switchboard.example",
            "text": "Hi",
        },
    )

    assert InboundMail.objects.get().status == InboundMail.Status.UNMATCHED
    assert not incident.replies.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("secret", "body", "status"),
    [
        ("wrong", {"from": "a@b.example"}, 403),
        (None, {"from": "a@b.example"}, 403),
        (SECRET, "{not json", 400),
        (SECRET, ["a list"], 400),
        (SECRET, {"subject": "no sender"}, 400),
    ],
)
def test_the_webhook_refuses_bad_secrets_and_payloads_with_json(
    client, webhook, secret, body, status
):
    response = post_mail(client, body, secret=secret)

    assert response.status_code == status
    assert "error" in response.json()
    assert not InboundMail.objects.exists()


@pytest.mark.django_db
def test_the_webhook_is_off_without_a_secret(client, settings):
    settings.INBOUND_MAIL_SECRET = ""

    response = post_mail(client, {"from": "a@b.example"}, secret="anything")

    assert response.status_code == 503


@pytest.mark.django_db
def test_mail_that_names_no_message_waits_for_triage_and_a_person_attaches_it(
    client, webhook, agent
):
    incident = IncidentFactory()
    post_mail(client, {"from": "someone@example.com", "text": "About my eSIM"})
    mail = InboundMail.objects.get()
    assert mail.status == InboundMail.Status.UNMATCHED
    client.force_login(agent)
    assert "About my eSIM" in client.get(reverse("comms:inbound_mail")).text

    response = client.post(
        reverse("comms:attach_mail", args=[mail.pk]),
        {"incident": incident.reference, "sender_kind": "customer"},
    )

    assert response.status_code == 302
    mail.refresh_from_db()
    assert (mail.status, mail.incident, mail.handled_by) == ("matched", incident, agent)
    assert incident.replies.get().text == "About my eSIM"


@pytest.mark.django_db
def test_setting_mail_aside_needs_a_reason_and_keeps_it(client, webhook, agent):
    post_mail(client, {"from": "bot@example.com", "text": "Out of office"})
    mail = InboundMail.objects.get()
    client.force_login(agent)

    client.post(reverse("comms:dismiss_mail", args=[mail.pk]), {"note": ""})
    mail.refresh_from_db()
    assert mail.status == InboundMail.Status.UNMATCHED

    client.post(reverse("comms:dismiss_mail", args=[mail.pk]), {"note": "Auto-reply"})
    mail.refresh_from_db()
    assert (mail.status, mail.note) == ("dismissed", "Auto-reply")


@pytest.mark.django_db
def test_the_triage_page_keeps_its_query_count(client, webhook, agent):
    client.force_login(agent)
    for n in range(2):
        post_mail(client, {"from": f"one{n}@example.com", "text": "1"})
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("comms:inbound_mail"))
    for n in range(10):
        post_mail(client, {"from": f"x{n}@example.com", "text": str(n)})

    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("comms:inbound_mail"))

    assert response.status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.django_db
def test_a_policy_that_trusts_keywords_records_the_confirmation(client, agent, webhook):
    incident = IncidentFactory()
    incident.policy.confirmation_keywords = "all good\nit works"
    incident.policy.save()
    sent = send_test_message(incident, agent)

    post_mail(
        client,
        {
            "from": incident.customer.email,
            "text": "All good now, thank you",
            "in_reply_to": stamped_id(sent),
        },
    )

    assert incident.replies.get().kind == Reply.Kind.CONFIRMED


@pytest.mark.django_db
def test_without_trusted_keywords_a_person_ticks_the_confirmation(
    client, agent, webhook
):
    incident = IncidentFactory()
    sent = send_test_message(incident, agent)
    post_mail(
        client,
        {
            "from": incident.customer.email,
            "text": "All good now",
            "in_reply_to": stamped_id(sent),
        },
    )
    reply = incident.replies.get()
    assert reply.kind == Reply.Kind.REPLY
    client.force_login(agent)

    client.post(reverse("comms:confirm_reply", args=[reply.pk]))

    reply.refresh_from_db()
    assert reply.kind == Reply.Kind.CONFIRMED


@pytest.mark.django_db
def test_a_customer_reply_reopens_a_closed_pending_incident(client, agent, webhook):
    incident = IncidentFactory()
    sent = send_test_message(incident, agent)
    for step in ("investigating", "waiting_customer", "closed_pending"):
        from incidents import services as incident_services

        incident = incident_services.move_incident(
            incident=incident, actor=None, to_status=step
        )

    post_mail(
        client,
        {
            "from": incident.customer.email,
            "text": "Here is the screenshot you asked for.",
            "in_reply_to": stamped_id(sent),
        },
    )

    incident.refresh_from_db()
    assert incident.status == Incident.Status.INVESTIGATING
    assert incident.timeline_events.filter(kind=TimelineEvent.Kind.REOPENED).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "keywords", "reopened"),
    [
        ("It is broken again since this morning.", "", True),
        ("All good, thanks!", "all good", False),
    ],
)
def test_a_customer_reply_reopens_a_closed_incident_unless_it_confirms_the_fix(
    client, agent, webhook, text, keywords, reopened
):
    incident = IncidentFactory()
    incident.policy.confirmation_keywords = keywords
    incident.policy.save()
    sent = send_test_message(incident, agent)
    Incident.objects.filter(pk=incident.pk).update(
        status=Incident.Status.CLOSED,
        resolved_at=timezone.now(),
        closed_at=timezone.now(),
    )

    post_mail(
        client,
        {
            "from": incident.customer.email,
            "text": text,
            "in_reply_to": stamped_id(sent),
        },
    )

    incident.refresh_from_db()
    assert (incident.status == Incident.Status.INVESTIGATING) is reopened
    assert (
        incident.timeline_events.filter(kind=TimelineEvent.Kind.REOPENED).exists()
        is reopened
    )


@pytest.mark.django_db
def test_a_reply_to_an_archived_incident_lands_on_it_without_reopening_it(
    client, agent, webhook
):
    incident = IncidentFactory()
    sent = send_test_message(incident, agent)
    Incident.objects.filter(pk=incident.pk).update(
        status=Incident.Status.CLOSED,
        resolved_at=timezone.now(),
        closed_at=timezone.now(),
        archived_at=timezone.now(),
    )

    post_mail(
        client,
        {
            "from": incident.customer.email,
            "text": "Broken again.",
            "in_reply_to": stamped_id(sent),
        },
    )

    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED
    assert incident.replies.get().text == "Broken again."


def test_reply_text_drops_the_quoted_message():
    text = "Thanks!\n\nOn Tue, Dec 1, 2026 Support wrote:\n> old\n> older"

    assert mail_threads.reply_text(text) == "Thanks!"


def test_only_signed_message_ids_of_this_portal_count(settings):
    settings.EMAIL_MESSAGE_ID_DOMAIN = "switchboard.local"
    ours_4 = mail_threads.message_id_header(4)
    ours_7 = mail_threads.message_id_header(7, "-2")

    found = mail_threads.referenced_message_ids(
        f"{ours_4} <switchboard-message-9@evil.example> "
        # Counted up from an id seen in another e-mail: no signature.
        "<switchboard-message-5@switchboard.local> "
        "<switchboard-message-6.0123456789abcdef@switchboard.local>",
        ours_7,
    )

    assert found == [7, 4]


@pytest.mark.django_db
def test_a_stranger_quoting_another_incidents_message_id_lands_nowhere(
    agent, client, webhook
):
    incident = IncidentFactory(priority=Priority.P3, status="closed")
    sent = send_test_message(incident, agent, stage="closure", follow_up_number=None)

    response = post_mail(
        client,
        {
            "From": "someone@else.example",
            "FromName": "Someone",
            "To": "support@switchboard.test",
            "Subject": "Re: anything",
            "TextBody": "Reopen this please.",
            "MessageID": "<x-1@else.example>",
            "Headers": [{"Name": "References", "Value": stamped_id(sent)}],
        },
    )

    mail = InboundMail.objects.get()
    incident.refresh_from_db()
    assert response.json()["status"] == "unmatched"
    assert mail.status == InboundMail.Status.UNMATCHED
    assert "not written to" in mail.note
    assert incident.status == "closed"
    assert not incident.replies.exists()


@pytest.mark.django_db
def test_the_webhook_secret_is_accepted_in_the_header_only(client, webhook):
    response = client.post(
        reverse("comms:inbound_mail_webhook") + f"?secret={SECRET}",
        data="{}",
        content_type="application/json",
    )

    assert response.status_code == 403
