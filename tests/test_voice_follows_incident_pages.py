"""Through the pages: what the portal says it will write, and what it wrote.

Five promises people read off the portal's pages, each checked against what
happens next: the Escalate page shows the very e-mail the customer then
gets; the Messages tab says why the 24-hour rule held a message back; an
edit takes a communication plan out of review; a stranger who copies a
real Message-ID into a reply over SMTP waits in Unmatched mail instead of
reopening the incident; and a manager who approves a portal-written message
sends it as the incident stands then, not as it stood when it was written.
"""

import datetime as dt
import email
import html
import re
import smtplib
import socket
from email import policy as email_policy
from email.message import EmailMessage

import pytest
from django.urls import reverse

from comms import services as comms_services
from comms.models import InboundMail, Message, MessageTemplate
from comms.services import delivery
from escalations.models import Tier
from incidents import services as incident_services
from incidents.models import (
    CommunicationPlan,
    Incident,
    Priority,
    Signal,
    TimelineEvent,
)
from portal.management.commands.receive_mail import receiver
from tests.comms.conftest import smtp_server  # noqa: F401  (a fixture)
from tests.factories import (
    IncidentFactory,
    UserFactory,
    confirmed_checks,
    escalation_note,
    send_test_message,
    start_test_plan,
)

M = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _shown(pattern: str, page: str) -> str:
    """Return the text of the first match of ``pattern``, as a reader sees it."""
    found = re.search(pattern, page, re.S)
    assert found, f"Nothing on the page matches {pattern!r}"
    return html.unescape(found.group(1))


# --- The Escalate page ---------------------------------------------------------


@pytest.mark.django_db
def test_the_escalate_page_shows_the_customer_the_email_escalating_then_sends(
    agent_client, agent, frozen_now
):
    UserFactory(username="senior-a", role="Senior agent")  # the L2 tier's member
    incident = IncidentFactory(
        priority=Priority.P3, owner=agent, customer__name="Jane Doe"
    )
    url = reverse("escalations:escalate", args=[incident.pk])

    page = agent_client.get(url).content.decode()

    notice = _shown(
        r'<fieldset[^>]*customer-notice[^>]*data-path-section="l2">(.*?)</fieldset>',
        page,
    )
    assert "The customer will be told" in notice
    shown_to = _shown(r"this e-mail goes to (.*?)\.</div>", notice)
    shown_subject = _shown(r'<div class="fw-semibold small mt-1">(.*?)</div>', notice)
    shown_body = _shown(r"<pre[^>]*>(.*?)</pre>", notice)
    assert shown_to == incident.customer.email
    assert shown_subject == f"{incident.reference}: a senior specialist is taking over"
    assert shown_body.startswith("Hello Jane,")
    assert agent.get_full_name() in shown_body

    data = {
        "path": "l2",
        "tiers": [Tier.objects.get(policy=incident.policy, key="l2").pk],
        **escalation_note(),
    }
    for pk in confirmed_checks(incident.policy):
        data[f"check_{pk}"] = "on"
    response = agent_client.post(url, data)

    assert response.status_code == 302
    told = Message.objects.get(
        incident=incident, audience="customer", stage="escalation"
    )
    assert (told.recipients, told.subject, told.body) == (
        [shown_to],
        shown_subject,
        shown_body,
    )


# --- The Messages tab ----------------------------------------------------------


def found_first(**fields):
    """Open an incident a signal found before the customer reported it."""
    return IncidentFactory(signal=Signal.objects.get(code="SIG-001"), **fields)


@pytest.mark.django_db
def test_the_messages_tab_says_why_the_24_hour_rule_held_a_message_back(
    agent_client, agent, frozen_now, time_machine
):
    first = found_first(root_cause="Carrier API outage")
    sibling = found_first(customer=first.customer, root_cause="carrier api outage")
    send_test_message(first, agent, stage="creation", follow_up_number=None)
    time_machine.move_to(frozen_now + 23 * H, tick=False)
    held = send_test_message(sibling, agent, stage="creation", follow_up_number=None)
    assert held.status == Message.Status.SUPPRESSED

    page = agent_client.get(
        reverse("comms:incident_messages", args=[sibling.pk])
    ).content.decode()

    card = _shown(r'<h2 class="h5">Messages</h2>(.*?)<h2 class="h5">Follow-up', page)
    badge = _shown(r'<span class="badge[^"]*">(.*?)</span>', card)
    reason = _shown(r'<div class="small text-danger">(.*?)</div>', card)
    assert badge == "Suppressed (duplicate)"
    assert reason.startswith("Suppressed (duplicate): The customer already heard")
    assert "within 24 hours" in reason
    assert first.reference in reason


# --- The communication plan ----------------------------------------------------


@pytest.mark.django_db
def test_editing_a_plan_in_review_sends_it_back_to_draft(agent_client, agent):
    incident = IncidentFactory(priority=Priority.P1, owner=agent)
    plan = start_test_plan(incident, agent)
    agent_client.post(reverse("incidents:plan_submit", args=[incident.pk]))
    plan.refresh_from_db()
    assert plan.status == CommunicationPlan.Status.IN_REVIEW

    response = agent_client.post(
        reverse("incidents:plan_edit", args=[incident.pk]),
        {
            "category": "Enterprise accounts",
            "owner": agent.pk,
            "effective_on": plan.effective_on.isoformat(),
            "review_cycle": plan.review_cycle,
        },
        follow=True,
    )

    plan.refresh_from_db()
    assert (plan.status, plan.category) == ("draft", "Enterprise accounts")
    page = response.content.decode()
    assert "It was in review and is a draft again" in page
    assert '<span class="badge text-bg-secondary">Draft</span>' in page
    assert reverse("incidents:plan_submit", args=[incident.pk]) in page
    edited = TimelineEvent.objects.filter(
        incident=incident, kind=TimelineEvent.Kind.COMMUNICATION_PLAN_CHANGED
    ).latest("pk")
    assert (edited.details["change"], edited.details["status"]) == ("edited", "draft")


# --- Unmatched mail ------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_stranger_replying_over_smtp_with_a_real_message_id_waits_in_unmatched_mail(
    agent,
    client,
    smtp_server,  # noqa: F811 (the fixture imported above)
    settings,
    q2_sync,
    django_capture_on_commit_callbacks,
):
    settings.EMAIL_MESSAGE_ID_DOMAIN = "switchboard.local"
    incident = IncidentFactory(priority=Priority.P3, status="closed")
    with django_capture_on_commit_callbacks(execute=True):
        send_test_message(incident, agent, stage="closure", follow_up_number=None)
    outbound = email.message_from_bytes(
        smtp_server.messages[0].original_content, policy=email_policy.default
    )
    real_id = outbound["Message-ID"]
    stranger = "someone@else.example"
    written_to = {a.addr_spec for a in outbound["To"].addresses}
    assert written_to == {incident.customer.email} and stranger not in written_to
    inbound = receiver("127.0.0.1", _free_port())
    inbound.start()
    reply = EmailMessage()
    reply["From"] = f"Someone <{stranger}>"
    reply["To"] = "switchboard@localhost"
    reply["Subject"] = f"Re: {outbound['Subject']}"
    reply["Message-ID"] = "<stranger-1@else.example>"
    reply["In-Reply-To"] = real_id
    reply["References"] = real_id
    reply.set_content("It is broken again, reopen it please.")

    try:
        with smtplib.SMTP("127.0.0.1", inbound.port, timeout=10) as smtp:
            smtp.send_message(reply)
    finally:
        inbound.stop()

    mail = InboundMail.objects.get()
    assert (mail.status, mail.source, mail.incident) == ("unmatched", "smtp", None)
    assert f"Names {incident.reference}, but {stranger} was not written to" in (
        mail.note
    )
    incident.refresh_from_db()
    assert incident.status == Incident.Status.CLOSED
    assert not incident.replies.exists()
    assert not incident.timeline_events.filter(
        kind__in=[TimelineEvent.Kind.REOPENED, TimelineEvent.Kind.REPLY_RECEIVED]
    ).exists()
    client.force_login(agent)
    triage = client.get(reverse("comms:inbound_mail")).content.decode()
    assert "It is broken again, reopen it please." in triage
    assert html.escape(f"Held back: Names {incident.reference}") in triage


# --- Approvals -----------------------------------------------------------------


@pytest.mark.django_db
def test_a_portal_message_a_manager_approves_leaves_as_the_incident_stands_then(
    client,
    manager,
    frozen_now,
    time_machine,
    smtp_server,  # noqa: F811 (the fixture imported above)
):
    ada = UserFactory(username="ada", role="Agent", first_name="Ada", last_name="Byron")
    grace = UserFactory(
        username="grace", role="Agent", first_name="Grace", last_name="Hopper"
    )
    incident = IncidentFactory(priority=Priority.P1, owner=ada)
    template = MessageTemplate.objects.get(key="customer-initial-critical")
    written = comms_services.send_template(
        incident=incident,
        version=template.current_version,
        actor=None,
        audience="customer",
        channel="email",
        stage=template.stage,
        situation=template.situation,
        recipients=[incident.customer.email],
    )
    assert (written.status, written.renders_on_send) == ("awaiting_approval", True)
    assert "Ada Byron owns your case" in written.body
    time_machine.move_to(frozen_now + 2 * M, tick=False)
    incident_services.assign_incident(incident=incident, actor=ada, owner=grace)
    client.force_login(manager)

    # The manager approves the text the page shows, untouched.
    page = client.get(reverse("comms:approvals")).content.decode()
    prefix = str(written.pk)
    subject = _shown(rf'name="{prefix}-subject"[^>]*value="([^"]*)"', page)
    body = _shown(rf'<textarea[^>]*name="{prefix}-body"[^>]*>(.*?)</textarea>', page)
    assert "Ada Byron owns your case" in body
    response = client.post(
        reverse("comms:approve", args=[written.pk]),
        {f"{prefix}-subject": subject, f"{prefix}-body": body},
    )

    assert response.status_code == 302
    written.refresh_from_db()
    assert written.decided_by == manager
    assert written.status == Message.Status.SCHEDULED
    assert "Grace Hopper owns your case" in written.body
    assert "Ada Byron" not in written.body

    time_machine.move_to(frozen_now + 6 * M, tick=False)
    comms_services.due_work(frozen_now + 6 * M)
    delivery.deliver_message(message_id=written.pk)

    written.refresh_from_db()
    assert written.status == Message.Status.SENT
    sent = email.message_from_bytes(
        smtp_server.messages[0].original_content, policy=email_policy.default
    )
    sent_text = sent.get_body(preferencelist=("plain",)).get_content()
    assert "Grace Hopper owns your case" in sent_text
    assert "Ada Byron" not in sent_text
