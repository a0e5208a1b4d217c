"""End to end: the portal's voice follows the incident over three days.

An enterprise fleet incident gets an agent's update, a rule's escalation
and a manual escalation within two minutes, is resolved, worked through its
checklist and closed, and the sweep runs for three more days. Every message
each audience received is listed; none came after the close, and none
promised a time already past when it left.
"""

import datetime as dt
import re

import pytest

from comms.models import Message
from comms.services import delivery
from escalations.models import Escalation, Tier
from incidents import services as incident_services
from incidents.models import IncidentChecklistItem, Policy, Priority
from portal.tasks import run_due_work
from tests.factories import (
    CustomerFactory,
    IncidentFactory,
    UserFactory,
    request_test_escalation,
    send_test_message,
)

pytestmark = pytest.mark.django_db
S = dt.timedelta(seconds=1)
M = dt.timedelta(minutes=1)
H = dt.timedelta(hours=1)
# How the portal writes a time it promises: "by Wed 18 Nov 2026, 14:00 UTC".
PROMISE = re.compile(
    r"\b(?:by|due) ([A-Z][a-z]{2} \d{2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}) UTC"
)


def deliver_everything():
    for pk in Message.objects.filter(status="queued").values_list("pk", flat=True):
        delivery.deliver_message(message_id=pk)


def at(time_machine, moment):
    time_machine.move_to(moment, tick=False)
    return moment


def sweep(time_machine, moment):
    run_due_work(at(time_machine, moment))
    deliver_everything()


def received():
    """Every message that left, as (when, audience, to, subject)."""
    return [
        (m.sent_at, m.audience, ", ".join(m.recipients), m.subject or m.body[:60])
        for m in Message.objects.filter(status="sent").order_by("sent_at", "pk")
    ]


def test_nothing_speaks_for_a_closed_incident_and_nothing_promises_the_past(
    agent, manager, frozen_now, time_machine
):
    fleet = Policy.objects.get(name="Fleet SaaS")
    for key in ("tier2", "tier3", "customer_success"):
        Tier.objects.get(policy=fleet, key=key).members.add(
            UserFactory(username=f"member-{key}", role="Senior agent")
        )
    customer = CustomerFactory(policy=fleet, segment="enterprise", time_zone="UTC")
    incident = IncidentFactory(customer=customer, priority=Priority.P2, actor=agent)
    t0 = frozen_now

    # Within two minutes: our update, a rule's escalation, a manual one.
    at(time_machine, t0 + 10 * S)
    incident = incident_services.move_incident(
        incident=incident, actor=agent, to_status="investigating"
    )
    send_test_message(
        incident, agent, stage="creation", follow_up_number=None, body="We are on it."
    )
    deliver_everything()
    sweep(time_machine, t0 + 30 * S)
    assert Escalation.objects.filter(incident=incident, rule__isnull=False).exists()
    at(time_machine, t0 + 90 * S)
    request_test_escalation(incident, agent, tier_key="tier3", path="l2")
    deliver_everything()
    for minute in range(2, 10):
        sweep(time_machine, t0 + minute * M)

    # Resolved, worked through its checklist, closed.
    at(time_machine, t0 + 10 * M)
    incident.refresh_from_db()
    incident = incident_services.resolve_incident(
        incident=incident,
        actor=agent,
        root_cause="A stuck job in the trip sync.",
        fix_summary="We restarted the sync and replayed the missed trips.",
        customer_summary="Live vehicle positions were not showing.",
        verification=["system_check"],
    )
    deliver_everything()
    sweep(time_machine, t0 + 12 * M)
    incident_services.refresh_checklists(incident=incident, actor=agent)
    for item in IncidentChecklistItem.objects.filter(
        checklist__incident=incident, state="open"
    ):
        if item.evidence == "none":
            incident_services.tick_checklist_item(item=item, actor=agent)
        else:
            incident_services.tick_checklist_item(
                item=item, actor=manager, note="Checked with the customer by phone."
            )
    closed_at = at(time_machine, t0 + 20 * M)
    incident = incident_services.close_incident(incident=incident, actor=manager)
    deliver_everything()

    # The sweep runs on for three days.
    for hour in range(1, 73):
        sweep(time_machine, closed_at + hour * H)

    messages = received()
    listing = "\n".join(
        f"{when:%H:%M:%S} {aud} → {to}: {what}" for when, aud, to, what in messages
    )
    after_close = [m for m in messages if m[0] > closed_at]
    assert after_close == [], listing
    customer_mail = [m for m in messages if m[1] == "customer"]
    escalation_notices = Message.objects.filter(
        incident=incident, audience="customer", stage="escalation", status="sent"
    )
    assert escalation_notices.count() == 1, listing
    assert len(customer_mail) >= 2, listing
    for message in Message.objects.filter(status="sent", audience="customer"):
        for promised in PROMISE.findall(message.body):
            when = dt.datetime.strptime(promised, "%a %d %b %Y, %H:%M").replace(
                tzinfo=dt.UTC
            )
            assert when > message.sent_at, (message.subject, promised, listing)
    assert not Escalation.objects.filter(
        incident=incident, status__in=Escalation.OPEN_STATUSES
    ).exists()
    held = Message.objects.filter(
        incident=incident,
        status__in=["scheduled", "awaiting_approval", "queued", "failed"],
    )
    assert not held.exists(), list(held.values_list("subject", "status"))
