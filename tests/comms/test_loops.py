import datetime as dt
import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from comms import selectors, services
from comms.models import FollowUpLoop, FollowUpSlot, Message
from incidents import services as incident_services
from incidents.models import Policy, Priority, TimelineEvent
from tests.factories import (
    ExternalPartyFactory,
    IncidentFactory,
    notify_party,
    partner_p1_incident,
    settle_checklists,
)

H = dt.timedelta(hours=1)


def sweep(time_machine, at):
    time_machine.move_to(at, tick=False)
    return services.due_work(at)


def loop_of(incident, audience, party=None):
    return FollowUpLoop.objects.get(incident=incident, audience=audience, party=party)


def follow_ups(incident, audience):
    return list(
        Message.objects.filter(
            incident=incident, audience=audience, stage="follow_up"
        ).order_by("id")
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("priority", "internal", "customer"),
    [("P1", 2, 4), ("P2", 8, 12), ("P3", 24, 48), ("P4", 48, 72)],
)
def test_sweep_opens_internal_and_customer_loops_on_the_policy_cadence(
    frozen_now, time_machine, priority, internal, customer
):
    incident = IncidentFactory(priority=priority)

    sweep(time_machine, frozen_now + dt.timedelta(minutes=1))

    assert loop_of(incident, "internal").next_due_at == frozen_now + internal * H
    assert loop_of(incident, "customer").next_due_at == frozen_now + customer * H
    assert (
        TimelineEvent.objects.filter(
            incident=incident, kind=TimelineEvent.Kind.FOLLOW_UP_LOOP_CHANGED
        ).count()
        == 2
    )


@pytest.mark.django_db
def test_another_policy_gives_its_own_cadence(frozen_now, time_machine):
    agency = Policy.objects.get(name="Automation agency")
    incident = IncidentFactory(priority=Priority.P1, customer__policy=agency)

    sweep(time_machine, frozen_now)

    assert loop_of(incident, "customer").cadence_minutes == 30
    assert loop_of(incident, "customer").next_due_at == frozen_now + dt.timedelta(
        minutes=30
    )


@pytest.mark.django_db
def test_a_partner_loop_opens_once_the_flagged_partner_was_written_to(
    frozen_now, time_machine
):
    party = ExternalPartyFactory()
    incident = partner_p1_incident()
    sweep(time_machine, frozen_now)
    assert not FollowUpLoop.objects.filter(incident=incident, audience="partner")

    notify_party(incident, party)
    sweep(time_machine, frozen_now + dt.timedelta(minutes=1))

    assert loop_of(incident, "partner", party).next_due_at == frozen_now + 2 * H


@pytest.mark.django_db
def test_a_follow_up_fires_at_its_due_time_and_not_a_minute_before(
    frozen_now, time_machine
):
    incident = IncidentFactory(priority=Priority.P3)
    sweep(time_machine, frozen_now)

    sweep(time_machine, frozen_now + 24 * H - dt.timedelta(minutes=1))
    assert follow_ups(incident, "internal") == []

    done = sweep(time_machine, frozen_now + 24 * H)

    assert done["follow_ups_fired"] == 1
    [message] = follow_ups(incident, "internal")
    assert message.follow_up_number == 1
    assert message.channel == "chat"
    assert message.status == Message.Status.QUEUED
    assert message.template_version.template.follow_up_from == 1
    loop = loop_of(incident, "internal")
    assert (loop.sent_count, loop.next_due_at) == (1, frozen_now + 48 * H)
    assert FollowUpSlot.objects.get(loop=loop, number=1).message == message


@pytest.mark.django_db
def test_tone_rises_with_the_follow_up_number(frozen_now, time_machine):
    incident = IncidentFactory(priority=Priority.P3)
    sweep(time_machine, frozen_now)

    for n in range(1, 6):
        sweep(time_machine, frozen_now + n * 24 * H)

    templates = [
        m.template_version.template.key for m in follow_ups(incident, "internal")
    ]
    assert [m.follow_up_number for m in follow_ups(incident, "internal")] == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert len(set(templates[:4])) == 4
    assert templates[3] == templates[4]


@pytest.mark.django_db
def test_a_customer_follow_up_goes_by_the_policys_delivery_mode(
    frozen_now, time_machine
):
    incident = IncidentFactory(priority=Priority.P1)  # P1 customers: approval
    sweep(time_machine, frozen_now)

    sweep(time_machine, frozen_now + 4 * H)

    [message] = follow_ups(incident, "customer")
    assert message.status == Message.Status.AWAITING_APPROVAL
    assert message.recipients == [incident.customer.email]


@pytest.mark.django_db
def test_raising_the_priority_retimes_the_loop(frozen_now, time_machine, agent):
    incident = IncidentFactory(priority=Priority.P3)
    sweep(time_machine, frozen_now)
    time_machine.move_to(frozen_now + H, tick=False)

    incident_services.edit_incident_details(
        incident=incident,
        actor=agent,
        expected_version=incident.version,
        changes={"priority": Priority.P2, "priority_reason": "Customer escalated."},
    )
    sweep(time_machine, frozen_now + H + dt.timedelta(minutes=1))

    loop = loop_of(incident, "internal")
    assert (loop.priority, loop.cadence_minutes) == ("P2", 8 * 60)
    assert loop.next_due_at == frozen_now + 8 * H
    event = TimelineEvent.objects.filter(
        incident=incident, details__change="retimed"
    ).first()
    assert event.details["priority"] == ["P3", "P2"]


@pytest.mark.django_db
def test_a_retimed_loop_already_past_its_new_beat_is_due_at_once(
    frozen_now, time_machine, agent
):
    incident = IncidentFactory(priority=Priority.P3)
    sweep(time_machine, frozen_now)
    time_machine.move_to(frozen_now + 3 * H, tick=False)

    incident_services.edit_incident_details(
        incident=incident,
        actor=agent,
        expected_version=incident.version,
        changes={"priority": Priority.P1, "priority_reason": "Outage widened."},
    )
    sweep(time_machine, frozen_now + 3 * H)

    assert len(follow_ups(incident, "internal")) == 1
    assert loop_of(incident, "internal").next_due_at == frozen_now + 5 * H


@pytest.mark.django_db
def test_a_logged_reply_pushes_the_next_follow_up_one_cadence_past_it(
    frozen_now, time_machine, agent
):
    party = ExternalPartyFactory()
    incident = partner_p1_incident()
    notify_party(incident, party)
    sweep(time_machine, frozen_now)
    sweep(time_machine, frozen_now + 2 * H)
    assert loop_of(incident, "partner", party).unanswered_count == 1
    time_machine.move_to(frozen_now + 3 * H, tick=False)

    services.log_reply(
        incident=incident,
        actor=agent,
        sender_kind="partner",
        party=party,
        text="Looking into it.",
    )

    loop = loop_of(incident, "partner", party)
    assert loop.next_due_at == frozen_now + 5 * H
    assert (loop.unanswered_count, loop.last_reply_at) == (0, frozen_now + 3 * H)
    sweep(time_machine, frozen_now + 4 * H)
    assert len(follow_ups(incident, "partner")) == 1


@pytest.mark.django_db
def test_after_downtime_one_follow_up_goes_out_and_the_missed_slots_are_noted(
    frozen_now, time_machine
):
    incident = IncidentFactory(priority=Priority.P3)
    sweep(time_machine, frozen_now)

    done = sweep(time_machine, frozen_now + 24 * H * 3 + 5 * H)

    assert done["follow_ups_fired"] == 2  # one internal, one customer
    assert len(follow_ups(incident, "internal")) == 1
    missed = TimelineEvent.objects.get(
        incident=incident,
        kind=TimelineEvent.Kind.FOLLOW_UP_SLOTS_MISSED,
        details__audience="internal",
    )
    assert missed.details["missed"] == 2
    assert loop_of(incident, "internal").next_due_at == frozen_now + 24 * H * 4


@pytest.mark.django_db
def test_loops_stop_when_the_incident_is_resolved(frozen_now, time_machine):
    incident = IncidentFactory(priority=Priority.P3)
    sweep(time_machine, frozen_now)
    incident_services.move_incident(
        incident=incident, actor=None, to_status="investigating"
    )
    incident_services.move_incident(incident=incident, actor=None, to_status="resolved")

    sweep(time_machine, frozen_now + 30 * 24 * H)

    assert follow_ups(incident, "internal") == []
    loop = loop_of(incident, "internal")
    assert loop.stopped_at is not None
    assert loop.next_due_at is None


@pytest.mark.django_db
def test_a_reopened_incident_gets_its_loops_back(frozen_now, time_machine):
    incident = IncidentFactory(priority=Priority.P3)
    sweep(time_machine, frozen_now)
    for step in ("investigating", "resolved", "closed"):
        if step == "closed":
            settle_checklists(incident)
        incident = incident_services.move_incident(
            incident=incident, actor=None, to_status=step
        )
    sweep(time_machine, frozen_now + dt.timedelta(minutes=1))
    assert loop_of(incident, "internal").stopped_at is not None

    incident_services.reopen_incident(incident=incident, actor=None, reason="Back.")
    sweep(time_machine, frozen_now + H)

    loop = loop_of(incident, "internal")
    assert loop.stopped_at is None
    assert loop.next_due_at == frozen_now + 25 * H


@pytest.mark.django_db
def test_a_loop_without_a_template_records_why_and_moves_on(frozen_now, time_machine):
    from comms.models import MessageTemplate

    MessageTemplate.objects.filter(audience="internal", stage="follow_up").update(
        is_active=False
    )
    incident = IncidentFactory(priority=Priority.P3)
    sweep(time_machine, frozen_now)

    sweep(time_machine, frozen_now + 24 * H)

    slot = FollowUpSlot.objects.get(loop__incident=incident, loop__audience="internal")
    assert slot.message is None
    assert "template" in slot.outcome
    assert loop_of(incident, "internal").next_due_at == frozen_now + 48 * H


@pytest.mark.django_db
def test_silent_party_loops_lists_partners_unanswered_after_two_follow_ups(
    frozen_now, time_machine
):
    party = ExternalPartyFactory()
    incident = partner_p1_incident()
    notify_party(incident, party)
    sweep(time_machine, frozen_now)
    sweep(time_machine, frozen_now + 2 * H)
    assert list(selectors.silent_party_loops(after_follow_ups=2)) == []

    sweep(time_machine, frozen_now + 4 * H)

    [loop] = selectors.silent_party_loops(after_follow_ups=2)
    assert (loop.party, loop.unanswered_count) == (party, 2)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SKIP LOCKED and concurrent sweeps need PostgreSQL",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_sweeps_at_once_fire_each_slot_exactly_once(frozen_now, time_machine):
    incidents = [IncidentFactory(priority=Priority.P3) for _ in range(6)]
    services.due_work(frozen_now)
    at = frozen_now + 24 * H
    time_machine.move_to(at, tick=False)
    start = threading.Barrier(2)
    results, errors = [], []

    def run():
        try:
            start.wait()
            results.append(services.loops.fire_due_follow_ups(at))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(results) == 6  # the internal loops; customers are due at 48 h
    assert FollowUpSlot.objects.count() == 6
    for incident in incidents:
        assert len(follow_ups(incident, "internal")) == 1


@pytest.mark.django_db
def test_a_sweep_that_dies_mid_follow_up_loses_nothing(
    frozen_now, time_machine, monkeypatch
):
    incident = IncidentFactory(priority=Priority.P3)
    sweep(time_machine, frozen_now)
    real_send = services.loops.messages.send_message_in_open_transaction

    def crash(**kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(
        services.loops.messages, "send_message_in_open_transaction", crash
    )
    sweep(time_machine, frozen_now + 24 * H)
    assert not FollowUpSlot.objects.exists()
    assert loop_of(incident, "internal").next_due_at == frozen_now + 24 * H

    monkeypatch.setattr(
        services.loops.messages, "send_message_in_open_transaction", real_send
    )
    sweep(time_machine, frozen_now + 24 * H + dt.timedelta(minutes=1))

    assert [m.follow_up_number for m in follow_ups(incident, "internal")] == [1]
    assert FollowUpSlot.objects.get().number == 1


@pytest.mark.django_db
def test_one_failing_follow_up_stays_due_while_the_rest_of_its_chunk_goes_out(
    frozen_now, time_machine, monkeypatch
):
    healthy = [IncidentFactory(priority=Priority.P3) for _ in range(2)]
    broken = IncidentFactory(priority=Priority.P3)
    sweep(time_machine, frozen_now)
    real_send = services.loops.messages.send_message_in_open_transaction

    def crash_for_broken(**kwargs):
        if kwargs["incident"].pk == broken.pk:
            raise RuntimeError("worker killed")
        return real_send(**kwargs)

    monkeypatch.setattr(
        services.loops.messages, "send_message_in_open_transaction", crash_for_broken
    )
    sweep(time_machine, frozen_now + 24 * H)

    for incident in healthy:
        assert [m.follow_up_number for m in follow_ups(incident, "internal")] == [1]
        assert loop_of(incident, "internal").slots_fired == 1
        assert loop_of(incident, "internal").next_due_at == frozen_now + 48 * H
    assert follow_ups(broken, "internal") == []
    assert loop_of(broken, "internal").slots_fired == 0
    assert loop_of(broken, "internal").next_due_at == frozen_now + 24 * H


@pytest.mark.django_db
def test_a_sweep_reads_each_library_answer_once_however_many_follow_ups_fire(
    frozen_now, time_machine
):
    def queries_to_fire(count, priority, opened_at, cadence):
        time_machine.move_to(opened_at, tick=False)
        incidents = [IncidentFactory(priority=priority) for _ in range(count)]
        sweep(time_machine, opened_at)
        at = opened_at + cadence
        time_machine.move_to(at, tick=False)
        with CaptureQueriesContext(connection) as captured:
            assert services.loops.fire_due_follow_ups(at) == count
        for incident in incidents:
            assert len(follow_ups(incident, "internal")) == 1
        return len(captured)

    # The second batch fires (P2, every 8 h) before the first is due again.
    few = queries_to_fire(2, Priority.P3, frozen_now, 24 * H)
    many = queries_to_fire(8, Priority.P2, frozen_now + 25 * H, 8 * H)
    # Each follow-up writes its message and its timeline entry, inside a
    # savepoint; templates, targets and delivery rules are read once.
    assert (many - few) / 6 <= 4
    assert many <= 8 * 4 + 10


@pytest.mark.django_db
def test_the_partners_ticket_is_quoted_in_each_follow_up_and_the_escalation(
    frozen_now,
    time_machine,
    agent,
    agent_client,
    q2_sync,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    from django.urls import reverse

    from comms import catalogue, rendering
    from comms.models import MessageTemplate

    party = ExternalPartyFactory(name="ConnectX")
    incident = partner_p1_incident()
    notify_party(incident, party)
    sweep(time_machine, frozen_now)
    loop = loop_of(incident, "partner", party)

    page = agent_client.post(
        reverse("comms:loop_ticket", args=[loop.pk]),
        {"ticket_id": "  CX-55120 "},
        follow=True,
    ).content.decode()
    assert "ConnectX&#x27;s ticket noted: CX-55120." in page
    with django_capture_on_commit_callbacks(execute=True):
        sweep(time_machine, frozen_now + 2 * H)
    (follow_up,) = follow_ups(incident, "partner")
    assert follow_up.status == Message.Status.SENT
    assert follow_up.subject.endswith("(your ticket CX-55120)")
    time_machine.move_to(frozen_now + 3 * H, tick=False)
    services.log_reply(
        incident=incident,
        actor=agent,
        sender_kind="partner",
        party=party,
        text="Looking into it,   we will revert.",
    )

    # The escalation to their management states what we sent and got back
    # (carrier communication playbook, partner escalation).
    version = MessageTemplate.objects.get(key="partner-escalation").current_version
    context = catalogue.incident_context(incident, audience="partner", party=party)
    escalation = rendering.render(version.subject, version.body, context)
    assert escalation.subject.endswith("(your ticket CX-55120)")
    assert "to you as ConnectX's management contact." in escalation.body
    assert "Your ticket: CX-55120\n" in escalation.body
    assert "Our follow-ups so far: 1, sent Wed 18 Nov, 14:00\n" in escalation.body
    assert (
        "Replies from you: 1; the latest Wed 18 Nov, 15:00: Looking into it, we "
        "will revert." in escalation.body
    )
