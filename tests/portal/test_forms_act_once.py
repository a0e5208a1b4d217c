"""A rendered form acts once: a double click, a second tab or a retry of the
same post makes one escalation, one credit, one message."""

import re

import pytest
from django.urls import reverse

from comms.models import Message
from escalations.models import CreditRequest, Escalation
from tests.escalations.test_views import escalate_post
from tests.factories import IncidentFactory, UserFactory, message_fields

pytestmark = pytest.mark.django_db


def form_key(page) -> str:
    return re.search(r'name="form_key" value="([0-9a-f]{32})"', page.content.decode())[
        1
    ]


def test_escalating_twice_with_one_form_makes_one_escalation(agent_client):
    UserFactory(username="l2-member", role="Senior agent")
    incident = IncidentFactory()
    url = reverse("escalations:escalate", args=[incident.pk])
    data = {**escalate_post(incident), "form_key": form_key(agent_client.get(url))}

    first = agent_client.post(url, data)
    second = agent_client.post(url, data, follow=True)

    assert first.status_code == 302
    assert Escalation.objects.filter(incident=incident).count() == 1
    assert "already sent once" in second.content.decode()
    customer_mails = Message.objects.filter(incident=incident, audience="customer")
    assert customer_mails.count() <= 1


def test_requesting_a_credit_twice_with_one_form_makes_one_credit(agent_client):
    incident = IncidentFactory()
    url = reverse("escalations:incident_credits", args=[incident.pk])
    data = {
        "kind": "refund",
        "amount": "25.00",
        "currency": "USD",
        "reason": "Charged twice for the same month.",
        "form_key": form_key(agent_client.get(url)),
    }

    agent_client.post(url, data)
    agent_client.post(url, data)

    assert CreditRequest.objects.filter(incident=incident).count() == 1


def test_sending_a_message_twice_with_one_form_sends_one(agent_client):
    incident = IncidentFactory()
    url = reverse("comms:compose", args=[incident.pk])
    fields = message_fields(incident)
    data = {
        "audience": fields["audience"],
        "channel": fields["channel"],
        "stage": fields["stage"],
        "follow_up_number": fields["follow_up_number"],
        "recipients": ", ".join(fields["recipients"]),
        "subject": fields["subject"],
        "body": fields["body"],
        "action": "Send",
        "form_key": form_key(agent_client.get(url)),
    }

    agent_client.post(url, data)
    agent_client.post(url, data)

    assert Message.objects.filter(incident=incident).count() == 1
