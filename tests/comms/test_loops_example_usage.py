"""The carrier communication playbook's "Example Usage", replayed with
controlled time.

A P1 eSIM incident for jane@example.com with ConnectX as the partner. The
policy's tables decide where the example is looser: the partner cadence is
2 h, so partner follow-up #2 falls at +4 h (the example says +6 h).
Escalating the silent partner and auto-closing belong to the escalation
and closure rules; here the loops hand them what they need.
"""

import datetime as dt
import json

import pytest
from django.urls import reverse

from comms import mail_threads, selectors, services
from comms.models import FollowUpLoop, Message, Reply
from incidents import services as incident_services
from incidents.models import Category, Customer, Priority, TimelineEvent
from tests.factories import ExternalPartyFactory, notify_party, send_test_message

H = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
# The cluster sweeps every minute; every fifth minute keeps the test quick
# and lands on the same times, since slots keep their own beat.
SWEEP_STEP = 5 * MINUTE


def sweep_every_minute(time_machine, start, end):
    """Run the sweep from ``start`` to ``end`` (inclusive)."""
    moment = start
    while moment <= end:
        time_machine.move_to(moment, tick=False)
        services.due_work(moment)
        moment += SWEEP_STEP


def follow_up_times(incident, t0):
    return sorted(
        (m.audience, m.follow_up_number, (m.created_at - t0) / H)
        for m in Message.objects.filter(incident=incident, stage="follow_up").order_by(
            "created_at", "id"
        )
    )


@pytest.fixture
def esim_incident(frozen_now, agent, manager, settings):
    settings.INBOUND_MAIL_SECRET = "s"
    settings.EMAIL_MESSAGE_ID_DOMAIN = "switchboard.local"
    connectx = ExternalPartyFactory(
        name="ConnectX",
        support_email="noc@connectx.example",
        domains="connectx.example",
    )
    jane = Customer.objects.create(
        name="Jane Doe", email="jane@example.com", account_id="ACC-JANE"
    )
    incident = incident_services.open_incident(
        actor=agent,
        title="eSIM provisioning fails",
        priority=Priority.P1,
        category=Category.objects.get(slug="esim"),
        what_happened="Provisioning returns an error for Jane's eSIM.",
        customer=jane,
        is_partner_action_needed=True,
        partner_action_details="ConnectX to investigate the provisioning error.",
    )
    notify_party(incident, connectx, agent)
    welcome = send_test_message(
        incident,
        agent,
        stage="creation",
        follow_up_number=None,
        subject="We detected an issue",
        body="We detected an issue and are already working on it.",
    )
    services.approve_message(message=welcome, actor=manager)
    return incident, connectx, welcome


@pytest.mark.django_db
def test_the_follow_up_loop_runs_on_the_p1_cadence(
    esim_incident, frozen_now, time_machine
):
    incident, connectx, _ = esim_incident

    sweep_every_minute(time_machine, frozen_now, frozen_now + 4 * H)

    # (audience, follow-up number, hours after opening), by audience
    assert follow_up_times(incident, frozen_now) == [
        ("customer", 1, 4.0),
        ("internal", 1, 2.0),
        ("internal", 2, 4.0),
        ("partner", 1, 2.0),
        ("partner", 2, 4.0),
    ]
    customer_follow_up = Message.objects.get(
        incident=incident, audience="customer", stage="follow_up"
    )
    assert customer_follow_up.status == Message.Status.AWAITING_APPROVAL  # P1 rule
    [silent] = selectors.silent_party_loops(after_follow_ups=2)
    assert (silent.party, silent.incident) == (connectx, incident)


@pytest.mark.django_db
@pytest.mark.parametrize("ending", ["customer_confirms", "silence"])
def test_resolution_stops_the_loops_and_both_endings_follow(
    esim_incident, frozen_now, time_machine, agent, client, ending
):
    incident, connectx, welcome = esim_incident
    sweep_every_minute(time_machine, frozen_now, frozen_now + 4 * H)
    time_machine.move_to(frozen_now + 5 * H, tick=False)
    services.log_reply(
        incident=incident,
        actor=agent,
        sender_kind="partner",
        party=connectx,
        text="Provisioning fixed on our side.",
    )
    assert list(selectors.silent_party_loops(after_follow_ups=2)) == []
    for step in ("investigating", "resolved"):
        incident = incident_services.move_incident(
            incident=incident, actor=agent, to_status=step
        )
    sweep_every_minute(time_machine, frozen_now + 5 * H, frozen_now + 5 * H + MINUTE)
    assert not FollowUpLoop.objects.filter(incident=incident, stopped_at__isnull=True)
    fired_before = len(follow_up_times(incident, frozen_now))

    if ending == "customer_confirms":
        incident.policy.confirmation_keywords = "it works"
        incident.policy.save()
        time_machine.move_to(frozen_now + 7 * H, tick=False)
        response = client.post(
            reverse("comms:inbound_mail_webhook"),
            data=json.dumps(
                {
                    "from": "jane@example.com",
                    "subject": "Re: We detected an issue",
                    "text": "It works! Thank you.",
                    "in_reply_to": mail_threads.message_id_header(welcome.pk),
                }
            ),
            content_type="application/json",
            headers={"X-Switchboard-Secret": "s"},
        )
        assert response.json()["incident"] == incident.reference
        assert incident.replies.get(sender_kind="customer").kind == Reply.Kind.CONFIRMED
    else:
        for hours in range(6, 5 + 72 + 1, 6):
            time_machine.move_to(frozen_now + hours * H, tick=False)
            services.due_work(frozen_now + hours * H)

    assert len(follow_up_times(incident, frozen_now)) == fired_before
    kinds = list(incident.timeline_events.values_list("kind", flat=True))
    assert kinds.count(TimelineEvent.Kind.FOLLOW_UP_LOOP_CHANGED) >= 6
