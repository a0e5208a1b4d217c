"""Two people deciding the same credit at once: exactly one decision stands."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from comms.models import Message
from escalations import services
from escalations.models import CreditRequest
from tests.factories import IncidentFactory, UserFactory, request_test_credit

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers; the row lock is PostgreSQL's to test",
    ),
]


def _at_once(*calls):
    """Run each call in its own thread and connection, released together."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as exc:  # the losing decision is an outcome too
            outcomes[index] = exc
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(index, call))
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.parametrize("second", ["approve", "reject"])
def test_two_deciders_at_once_leave_exactly_one_decision(settings, second):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    agent = UserFactory(username="race-agent", role="Agent")
    first_manager = UserFactory(username="race-manager-1", role="Manager")
    second_manager = UserFactory(username="race-manager-2", role="Manager")
    incident = IncidentFactory()
    credit = request_test_credit(incident, agent)

    def approve():
        return services.approve_credit(credit=credit, actor=first_manager)

    def other():
        if second == "approve":
            return services.approve_credit(credit=credit, actor=second_manager)
        return services.reject_credit(
            credit=credit, actor=second_manager, reason="Too generous."
        )

    outcomes = _at_once(approve, other)

    decided = [o for o in outcomes if isinstance(o, CreditRequest)]
    refused = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(decided) == 1 and len(refused) == 1, outcomes
    winner = decided[0].decided_by
    assert refused[0].code == "already_decided"
    assert winner.get_full_name() in refused[0].messages[0]
    credit.refresh_from_db()
    assert credit.decided_by == winner
    decisions = incident.timeline_events.filter(
        kind__in=["credit_approved", "credit_rejected"]
    )
    assert decisions.count() == 1
    customer_notices = Message.objects.filter(incident=incident, stage="post_incident")
    expected = 1 if credit.status == CreditRequest.Status.APPROVED else 0
    assert customer_notices.count() == expected
