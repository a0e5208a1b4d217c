"""Which webhook events a timeline entry is."""

import pytest

from escalations import services as escalation_services
from integrations.events import webhook_events
from integrations.models import WebhookEndpoint
from tests.factories import (
    IncidentFactory,
    UserFactory,
    request_test_credit,
    request_test_escalation,
)
from tests.integrations.conftest import bodies


@pytest.mark.parametrize(
    ("kind", "details", "expected"),
    [
        ("opened", {"priority": "P2"}, ["incident.opened"]),
        (
            "edited",
            {"changes": {"priority": ["P3", "P2"]}},
            ["incident.priority_changed"],
        ),
        ("edited", {"changes": {"title": ["A", "B"]}}, []),
        # The SLA recomputed after a priority edit names the priority, but
        # its changes are the deadlines: the edit is the event.
        (
            "sla_recomputed",
            {"priority": "P2", "changes": {"resolution_due_at": []}},
            [],
        ),
        (
            "status_changed",
            {"changes": {"status": ["new", "investigating"]}},
            ["incident.status_changed"],
        ),
        (
            "resolution_recorded",
            {"changes": {"status": ["investigating", "resolved"]}},
            ["incident.status_changed", "incident.resolved"],
        ),
        (
            "status_changed",
            {"changes": {"status": ["resolved", "closed"]}},
            ["incident.status_changed", "incident.closed"],
        ),
        (
            "auto_closed",
            {"changes": {"status": ["waiting_customer", "closed_pending"]}},
            ["incident.status_changed", "incident.closed"],
        ),
        (
            "reopened",
            {"changes": {"status": ["closed", "investigating"]}},
            ["incident.status_changed"],
        ),
        ("message_sent", {"audience": "customer"}, ["message.sent"]),
        ("message_queued", {}, []),
        ("escalation_requested", {}, ["escalation.requested"]),
        ("escalation_triggered", {}, ["escalation.requested"]),
        ("escalation_approved", {}, ["escalation.decided"]),
        ("escalation_rejected", {}, ["escalation.decided"]),
        ("escalation_acknowledged", {}, ["escalation.decided"]),
        ("escalation_returned", {}, ["escalation.decided"]),
        ("escalation_resolved", {}, ["escalation.decided"]),
        ("escalation_cancelled", {}, ["escalation.decided"]),
        ("escalation_reminded", {}, []),
        ("credit_approved", {}, ["credit.decided"]),
        ("credit_rejected", {}, ["credit.decided"]),
        ("credit_requested", {}, []),
        ("archived", {}, []),
    ],
)
def test_a_timeline_entry_is_the_webhook_events_it_stands_for(kind, details, expected):
    assert webhook_events(kind, details) == expected


@pytest.mark.django_db
def test_an_escalation_request_and_a_credit_decision_are_posted(
    receiver, agent, manager, q2_sync, django_capture_on_commit_callbacks
):
    WebhookEndpoint.objects.create(
        name="Finance",
        url=receiver.url,
        events=["escalation.requested", "credit.decided"],
    )
    UserFactory(username="senior-a", role="Senior agent")  # L2 has a member
    incident = IncidentFactory(actor=agent)

    with django_capture_on_commit_callbacks(execute=True):
        request_test_escalation(incident, agent)
    with django_capture_on_commit_callbacks(execute=True):
        credit = request_test_credit(incident, agent)
    with django_capture_on_commit_callbacks(execute=True):
        escalation_services.approve_credit(credit=credit, actor=manager)

    requested, decided = bodies(receiver)
    assert (requested["event"], requested["kind"]) == (
        "escalation.requested",
        "escalation_requested",
    )
    assert requested["data"]["tier"]
    assert (decided["event"], decided["kind"], decided["actor"]) == (
        "credit.decided",
        "credit_approved",
        "manager-a",
    )
    assert decided["data"]["amount"] == "250.00"
