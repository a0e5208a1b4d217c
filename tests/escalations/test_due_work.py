import datetime as dt
import threading

import pytest
from django.db import connection

from comms.models import Message
from escalations import services
from escalations.models import Escalation, EscalationFiring
from incidents.models import Priority, TimelineEvent
from tests.factories import IncidentFactory, UserFactory, request_test_escalation

pytestmark = pytest.mark.django_db


def reminders(escalation):
    return TimelineEvent.objects.filter(
        kind=TimelineEvent.Kind.ESCALATION_REMINDED,
        details__escalation=escalation.pk,
        details__slot__isnull=False,
    ).count()


def test_reminder_fires_once_per_interval(agent, senior, frozen_now):
    (escalation,) = request_test_escalation(IncidentFactory(), agent)

    services.due_work(frozen_now + dt.timedelta(hours=23, minutes=59))
    assert reminders(escalation) == 0
    services.due_work(frozen_now + dt.timedelta(hours=24))
    services.due_work(frozen_now + dt.timedelta(hours=24, minutes=1))
    assert reminders(escalation) == 1
    services.due_work(frozen_now + dt.timedelta(hours=48))
    assert reminders(escalation) == 2


def test_no_reminder_once_acknowledged(agent, senior, frozen_now):
    (escalation,) = request_test_escalation(IncidentFactory(), agent)
    services.acknowledge_escalation(escalation=escalation, actor=senior)

    services.due_work(frozen_now + dt.timedelta(hours=25))

    assert reminders(escalation) == 0


def test_missed_target_checks_in_with_the_customer_once(agent, senior, frozen_now):
    incident = IncidentFactory(priority=Priority.P3)
    (escalation,) = request_test_escalation(incident, agent)

    services.due_work(frozen_now + dt.timedelta(hours=24))
    services.due_work(frozen_now + dt.timedelta(hours=25))

    check_ins = Message.objects.filter(
        incident=incident, audience="customer", situation="escalation_sla_missed"
    )
    assert check_ins.count() == 1
    assert EscalationFiring.objects.filter(kind="check_in").count() == 1


def test_manager_then_executive_notices_follow_the_policy(frozen_now, db):
    from incidents.models import Policy
    from tests.factories import CustomerFactory

    UserFactory(username="mgr-n", role="Manager", email="mgr@x.test")
    UserFactory(username="vp-n", role="VP", email="vp@x.test")
    agency = Policy.objects.get(name="Automation agency")
    p2 = IncidentFactory(customer=CustomerFactory(policy=agency), priority="P2")
    p1 = IncidentFactory(customer=CustomerFactory(policy=agency), priority="P1")

    services.due_work(frozen_now + dt.timedelta(hours=4) - dt.timedelta(seconds=1))
    assert not p2.timeline_events.filter(kind="management_notified").exists()
    services.due_work(frozen_now + dt.timedelta(hours=4))
    services.due_work(frozen_now + dt.timedelta(hours=5))

    (notice,) = p2.timeline_events.filter(kind="management_notified")
    assert notice.details["level"] == "manager"
    assert notice.details["recipients"] == ["mgr@x.test"]
    (executive,) = p1.timeline_events.filter(kind="management_notified")
    assert executive.details["level"] == "executive"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL row locks"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_sweeps_at_once_remind_once(agent, frozen_now):
    UserFactory(username="senior-t", role="Senior agent")
    (escalation,) = request_test_escalation(IncidentFactory(), agent)
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait()
            services.due_work(frozen_now + dt.timedelta(hours=24, minutes=5))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert reminders(escalation) == 1
    assert EscalationFiring.objects.filter(kind="reminder").count() == 1
    assert Escalation.objects.count() == 1


def test_several_late_tiers_check_in_with_the_customer_once(agent, frozen_now):
    from escalations.models import Tier

    incident = IncidentFactory(priority=Priority.P3)
    Tier.objects.get(policy=incident.policy, key="l2").members.add(
        UserFactory(username="member-l2", role="Senior agent")
    )
    request_test_escalation(incident, agent, tier_key="l2")
    Escalation.objects.create(
        incident=incident,
        path="l2",
        to_tier=Tier.objects.get(policy=incident.policy, key="engineering"),
        urgency="high",
        summary="Second tier late too",
        created_at=frozen_now,
        reached_tier_at=frozen_now,
        ack_due_at=frozen_now + dt.timedelta(hours=4),
    )

    for hours in (5, 6, 7):
        services.due_work(frozen_now + dt.timedelta(hours=hours))

    check_ins = Message.objects.filter(
        incident=incident, audience="customer", situation="escalation_sla_missed"
    )
    assert check_ins.count() == 1
