import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from escalations import services
from escalations.models import Escalation
from incidents.models import TimelineEvent
from tests.factories import IncidentFactory, UserFactory, request_test_escalation


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL row locks"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_managers_deciding_at_once_leave_one_decision():
    agent = UserFactory(username="agent-c", role="Agent")
    UserFactory(username="senior-c", role="Senior agent")
    first = UserFactory(username="manager-c", role="Manager")
    second = UserFactory(username="manager-d", role="Manager")
    (escalation,) = request_test_escalation(
        IncidentFactory(), agent, refund_amount=Decimal("300")
    )
    barrier = threading.Barrier(2)
    outcomes = []

    def decide(actor, approve):
        try:
            barrier.wait()
            if approve:
                services.approve_escalation(escalation=escalation, actor=actor)
            else:
                services.reject_escalation(
                    escalation=escalation, actor=actor, reason="Not needed."
                )
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=decide, args=(first, True)),
        threading.Thread(target=decide, args=(second, False)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["already_decided", "ok"]
    escalation.refresh_from_db()
    assert escalation.status in ("approved", "rejected")
    decisions = TimelineEvent.objects.filter(
        kind__in=["escalation_approved", "escalation_rejected"]
    )
    assert decisions.count() == 1
    assert Escalation.objects.count() == 1
