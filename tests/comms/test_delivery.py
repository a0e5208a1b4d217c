import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from comms import services
from comms.models import Message
from comms.services import delivery
from incidents.models import Priority, TimelineEvent
from tests.assertions import error_codes
from tests.factories import IncidentFactory, save_test_draft, send_test_message


@pytest.mark.django_db
def test_a_customer_email_is_delivered_once_and_stamps_the_first_response(
    agent, smtp_server, django_capture_on_commit_callbacks, q2_sync
):
    incident = IncidentFactory(priority=Priority.P3)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = send_test_message(incident, agent)

    assert len(callbacks) == 1
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.attempts == 1
    assert len(smtp_server.messages) == 1
    envelope = smtp_server.messages[0]
    assert envelope.rcpt_tos == [incident.customer.email]
    assert f"Update on {incident.reference}" in envelope.content.decode()
    incident.refresh_from_db()
    assert incident.first_response_at == message.sent_at
    kinds = list(incident.timeline_events.values_list("kind", flat=True))
    assert TimelineEvent.Kind.MESSAGE_QUEUED in kinds
    assert TimelineEvent.Kind.MESSAGE_SENT in kinds
    assert TimelineEvent.Kind.FIRST_RESPONSE in kinds


@pytest.mark.django_db
def test_deliver_message_twice_sends_once(agent, smtp_server):
    incident = IncidentFactory()
    message = send_test_message(incident, agent)

    first = services.deliver_message(message_id=message.pk)
    second = services.deliver_message(message_id=message.pk)

    assert first.status == Message.Status.SENT
    assert second is None
    assert len(smtp_server.messages) == 1


@pytest.mark.django_db
def test_an_unreachable_mail_server_is_retried_then_shown_as_failed(
    agent, smtp_down, settings, time_machine, frozen_now, q2_sync
):
    settings.COMMS_MAX_ATTEMPTS = 3
    settings.COMMS_RETRY_BASE_SECONDS = 60
    incident = IncidentFactory()
    message = send_test_message(incident, agent)

    services.deliver_message(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED
    assert message.next_attempt_at == frozen_now + dt.timedelta(seconds=60)
    assert "E-mail not accepted" in message.last_error

    # Not yet due: the sweep leaves it alone.
    services.due_work(frozen_now + dt.timedelta(seconds=30))
    message.refresh_from_db()
    assert message.attempts == 1

    time_machine.move_to(frozen_now + dt.timedelta(seconds=61), tick=False)
    services.due_work(frozen_now + dt.timedelta(seconds=61))
    message.refresh_from_db()
    assert message.attempts == 2
    assert message.next_attempt_at == frozen_now + dt.timedelta(seconds=61 + 120)

    time_machine.move_to(frozen_now + dt.timedelta(seconds=200), tick=False)
    services.due_work(frozen_now + dt.timedelta(seconds=200))
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.attempts == 3
    assert message.last_error
    assert incident.timeline_events.filter(
        kind=TimelineEvent.Kind.MESSAGE_FAILED
    ).exists()


@pytest.mark.django_db
def test_a_failed_message_can_be_retried_and_then_goes_out(
    agent, smtp_down, settings, smtp_server
):
    incident = IncidentFactory()
    message = send_test_message(incident, agent)
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.FAILED, attempts=5, last_error="boom"
    )

    services.retry_message(message=message, actor=agent)
    services.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.attempts == 1


def _chat_post(incident, agent, channel, body):
    return send_test_message(
        incident,
        agent,
        audience="internal",
        channel="chat",
        stage="creation",
        follow_up_number=None,
        recipients=[channel],
        subject="",
        body=body,
    )


@pytest.mark.django_db
def test_chat_messages_post_to_the_routed_webhook(agent, chat_server):
    incident = IncidentFactory(priority=Priority.P1)
    message = _chat_post(incident, agent, "#cs-urgent", "P1 incident opened")

    services.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    # The P1 route pings everyone in the channel (carrier playbook, chat
    # routing): the post opens with it, and the Messages tab shows it too.
    assert message.body == "@channel P1 incident opened"
    assert chat_server.posts == [
        {
            "text": "@channel P1 incident opened",
            "channel": "#cs-urgent",
            "username": "Switchboard",
            "idempotency_key": f"switchboard-message-{message.pk}",
        }
    ]


@pytest.mark.django_db
def test_a_post_that_names_the_routes_people_is_not_pinged_twice(agent, chat_server):
    incident = IncidentFactory(priority=Priority.P2, is_systemic=True)
    message = _chat_post(
        incident, agent, "#incidents", "@cs-leads systemic outage, bridge open"
    )

    services.deliver_message(message_id=message.pk)

    assert chat_server.posts[0]["text"] == (
        "@engineering @cs-leads systemic outage, bridge open"
    )


@pytest.mark.django_db
def test_a_chat_webhook_error_is_retried(agent, chat_server):
    chat_server.status = 500
    incident = IncidentFactory()
    message = send_test_message(
        incident,
        agent,
        audience="internal",
        channel="chat",
        recipients=["#esim-support"],
        subject="",
        body="Update",
    )

    services.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED
    assert "answered 500" in message.last_error


@pytest.mark.django_db
def test_a_delivery_cut_off_mid_send_is_shown_for_a_person_to_check(
    agent, frozen_now, settings
):
    # A chat post records no progress: nobody can tell whether it went.
    incident = IncidentFactory()
    message = send_test_message(
        incident, agent, audience="internal", channel="chat", recipients=["#ops"]
    )
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.SENDING,
        claimed_at=frozen_now
        - dt.timedelta(seconds=settings.COMMS_STALE_CLAIM_SECONDS + 1),
        attempts=1,
    )

    result = services.due_work(frozen_now)

    message.refresh_from_db()
    assert result["stale"] == 1
    assert message.status == Message.Status.FAILED
    assert "may or may not have gone out" in message.last_error


@pytest.mark.django_db
def test_scheduled_messages_leave_when_due(
    agent, frozen_now, smtp_server, q2_sync, time_machine
):
    incident = IncidentFactory()
    message = send_test_message(
        incident, agent, send_after=frozen_now + dt.timedelta(hours=2)
    )
    assert message.status == Message.Status.SCHEDULED

    services.due_work(frozen_now + dt.timedelta(hours=1))
    message.refresh_from_db()
    assert message.status == Message.Status.SCHEDULED

    time_machine.move_to(frozen_now + dt.timedelta(hours=2), tick=False)
    services.due_work(frozen_now + dt.timedelta(hours=2))
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("recipients", "code"),
    [([], "no_recipients"), (["not-an-address"], "bad_recipient")],
)
def test_send_message_refuses_bad_recipients(agent, recipients, code):
    incident = IncidentFactory()

    with pytest.raises(ValidationError) as exc_info:
        send_test_message(incident, agent, recipients=recipients)

    assert code in error_codes(exc_info.value)
    assert not Message.objects.exists()


# --- Approvals ---------------------------------------------------------------


@pytest.mark.django_db
def test_customer_messages_on_p1_wait_for_approval(agent):
    incident = IncidentFactory(priority=Priority.P1)

    message = send_test_message(incident, agent)

    assert message.status == Message.Status.AWAITING_APPROVAL
    assert incident.timeline_events.filter(
        kind=TimelineEvent.Kind.MESSAGE_SUBMITTED
    ).exists()


@pytest.mark.django_db
def test_customer_messages_on_systemic_incidents_wait_for_approval(agent):
    incident = IncidentFactory(customer=None, is_systemic=True)

    message = send_test_message(incident, agent, recipients=["someone@example.com"])

    assert message.status == Message.Status.AWAITING_APPROVAL


@pytest.mark.django_db
def test_agents_cannot_approve(agent, other_agent):
    message = send_test_message(IncidentFactory(priority=Priority.P1), agent)

    with pytest.raises(PermissionDenied):
        services.approve_message(message=message, actor=other_agent)


@pytest.mark.django_db
def test_nobody_approves_their_own_message(manager):
    message = send_test_message(IncidentFactory(priority=Priority.P1), manager)

    with pytest.raises(ValidationError) as exc_info:
        services.approve_message(message=message, actor=manager)

    assert exc_info.value.code == "self_approval"


@pytest.mark.django_db
def test_a_manager_edits_then_approves(
    agent, manager, smtp_server, q2_sync, django_capture_on_commit_callbacks
):
    message = send_test_message(IncidentFactory(priority=Priority.P1), agent)

    with django_capture_on_commit_callbacks(execute=True):
        services.approve_message(
            message=message, actor=manager, body="Edited by the manager."
        )

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.decided_by == manager
    assert "Edited by the manager." in smtp_server.messages[0].content.decode()


@pytest.mark.django_db
def test_a_manager_rejects_with_a_reason(agent, manager):
    message = send_test_message(IncidentFactory(priority=Priority.P1), agent)

    services.reject_message(message=message, actor=manager, reason="Too vague")

    message.refresh_from_db()
    assert message.status == Message.Status.REJECTED
    assert message.status_reason == "Too vague"


# --- De-duplication ------------------------------------------------------------


def found_first(**fields):
    """Open an incident a signal found before the customer reported it."""
    from incidents.models import Signal

    return IncidentFactory(signal=Signal.objects.get(code="SIG-001"), **fields)


@pytest.mark.django_db
def test_a_second_proactive_alert_about_the_same_cause_is_suppressed(
    agent, frozen_now, time_machine
):
    first = found_first(root_cause="Carrier API outage")
    sibling = found_first(customer=first.customer, root_cause="carrier api outage")
    send_test_message(first, agent, stage="creation", follow_up_number=None)

    time_machine.move_to(frozen_now + dt.timedelta(hours=23), tick=False)
    repeat = send_test_message(sibling, agent, stage="creation", follow_up_number=None)

    assert repeat.status == Message.Status.SUPPRESSED
    assert "within 24 hours" in repeat.status_reason
    assert sibling.timeline_events.filter(
        kind=TimelineEvent.Kind.MESSAGE_SUPPRESSED
    ).exists()


@pytest.mark.django_db
def test_the_proactive_window_is_policy_data(agent, frozen_now, time_machine):
    first = found_first(root_cause="Carrier API outage")
    first.policy.proactive_window_hours = 2
    first.policy.save()
    sibling = found_first(customer=first.customer, root_cause="Carrier API outage")
    send_test_message(first, agent, stage="creation", follow_up_number=None)

    time_machine.move_to(frozen_now + dt.timedelta(hours=3), tick=False)
    later = send_test_message(sibling, agent, stage="creation", follow_up_number=None)

    assert later.status == Message.Status.QUEUED


@pytest.mark.django_db
def test_promised_follow_ups_are_never_suppressed_by_the_proactive_limit(
    agent, frozen_now, time_machine
):
    incident = found_first(root_cause="Carrier API outage")
    send_test_message(incident, agent, stage="creation", follow_up_number=None)
    follow_ups = []
    for hour in (1, 2, 3):
        time_machine.move_to(frozen_now + dt.timedelta(hours=hour), tick=False)
        follow_ups.append(send_test_message(incident, agent, follow_up_number=hour))

    assert [m.status for m in follow_ups] == [Message.Status.QUEUED] * 3


@pytest.mark.django_db
def test_different_root_causes_are_not_duplicates(agent):
    first = IncidentFactory(root_cause="Billing bug")
    second = IncidentFactory(customer=first.customer, root_cause="Network outage")
    send_test_message(first, agent)

    message = send_test_message(second, agent)

    assert message.status == Message.Status.QUEUED


@pytest.mark.django_db
def test_resolution_messages_are_never_suppressed(agent):
    incident = IncidentFactory(
        customer_summary="Your eSIM did not activate.",
        fix_summary="We issued a new eSIM profile.",
    )
    send_test_message(incident, agent, stage="resolution", follow_up_number=None)

    again = send_test_message(
        incident, agent, stage="resolution", follow_up_number=None
    )

    assert again.status == Message.Status.QUEUED


# --- Replies ---------------------------------------------------------------------


@pytest.mark.django_db
def test_log_reply_adds_it_to_the_timeline(agent):
    incident = IncidentFactory()

    services.log_reply(
        incident=incident,
        actor=agent,
        sender_kind="customer",
        text="It works now, thanks!",
        kind="confirmed",
    )

    event = incident.timeline_events.get(kind=TimelineEvent.Kind.REPLY_LOGGED)
    assert event.details["confirmed"] is True
    assert event.actor == agent


@pytest.mark.django_db
def test_only_customers_confirm_the_fix(agent):
    from comms.models import ExternalParty

    party = ExternalParty.objects.create(
        kind="partner", name="ConnectX", support_email="noc@connectx.example"
    )

    with pytest.raises(ValidationError) as exc_info:
        services.log_reply(
            incident=IncidentFactory(),
            actor=agent,
            sender_kind="partner",
            party=party,
            text="Fixed on our side",
            kind="confirmed",
        )

    assert "not_customer" in error_codes(exc_info.value)


# --- Rules found in review -------------------------------------------------------


@pytest.mark.django_db
def test_internal_email_only_goes_to_staff_so_it_cannot_skip_approval(agent):
    incident = IncidentFactory(priority=Priority.P1)

    with pytest.raises(ValidationError) as exc_info:
        send_test_message(
            incident, agent, audience="internal", recipients=[incident.customer.email]
        )

    assert "not_staff" in error_codes(exc_info.value)


@pytest.mark.django_db
def test_internal_email_to_staff_goes_out(agent, manager):
    manager.email = "morgan@switchboard.example"
    manager.save()
    incident = IncidentFactory(priority=Priority.P1)

    message = send_test_message(
        incident, agent, audience="internal", recipients=["Morgan@switchboard.example"]
    )

    assert message.status == Message.Status.QUEUED


@pytest.mark.django_db
@pytest.mark.parametrize("channel", ["note", "chat"])
def test_customers_are_not_written_to_on_team_channels(agent, channel):
    incident = IncidentFactory()

    with pytest.raises(ValidationError) as exc_info:
        send_test_message(incident, agent, channel=channel, recipients=["#support"])

    assert "external_channel" in error_codes(exc_info.value)


@pytest.mark.django_db
def test_duplicates_count_from_when_a_message_left_not_when_it_was_drafted(
    agent, frozen_now, time_machine
):
    first = found_first(root_cause="Carrier API outage")
    sibling = found_first(customer=first.customer, root_cause="Carrier API outage")
    draft = save_test_draft(
        first, agent, stage="creation", follow_up_number=None, body="From yesterday"
    )
    time_machine.move_to(frozen_now + dt.timedelta(hours=30), tick=False)
    services.send_draft(message=draft, actor=agent)

    time_machine.move_to(frozen_now + dt.timedelta(hours=31), tick=False)
    second = send_test_message(sibling, agent, stage="creation", follow_up_number=None)

    assert second.status == Message.Status.SUPPRESSED


@pytest.mark.django_db
def test_a_late_worker_does_not_undo_the_stale_claim_decision(
    agent, frozen_now, settings, smtp_server
):
    incident = IncidentFactory()
    message = send_test_message(incident, agent)
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.FAILED, attempts=1, last_error="stalled"
    )
    message.refresh_from_db()

    delivery._record_success(message)

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.sent_at is None


@pytest.mark.django_db
def test_an_untouched_approval_is_not_logged_as_an_edit(agent, manager):
    message = send_test_message(IncidentFactory(priority=Priority.P1), agent)

    services.approve_message(
        message=message,
        actor=manager,
        subject=message.subject,
        body=message.body.replace("\n", "\r\n") + "\r\n",
    )

    event = message.incident.timeline_events.get(
        kind=TimelineEvent.Kind.MESSAGE_APPROVED
    )
    assert event.details["changes"] == {}


@pytest.mark.django_db
def test_an_approver_cannot_blank_the_subject_of_an_email(agent, manager):
    message = send_test_message(IncidentFactory(priority=Priority.P1), agent)

    with pytest.raises(ValidationError) as exc_info:
        services.approve_message(message=message, actor=manager, subject="  ")

    assert "no_subject" in error_codes(exc_info.value)


@pytest.mark.django_db
def test_the_sweep_hands_over_a_queued_message_again_only_once_its_task_looks_lost(
    agent, frozen_now, settings, time_machine
):
    from django_q.models import OrmQ

    incident = IncidentFactory()
    message = send_test_message(incident, agent)  # its own task is on the way
    assert message.status == Message.Status.QUEUED

    services.due_work(frozen_now)
    assert OrmQ.objects.count() == 0

    later = frozen_now + dt.timedelta(seconds=settings.COMMS_LOST_TASK_SECONDS)
    time_machine.move_to(later, tick=False)
    assert services.due_work(later)["enqueued"] == 1
    assert [task.task["args"] for task in OrmQ.objects.all()] == [(message.pk,)]


@pytest.mark.django_db
def test_deliveries_queued_together_reach_the_workers_in_groups(
    agent, frozen_now, django_capture_on_commit_callbacks
):
    from django_q.models import OrmQ

    incidents = [IncidentFactory(priority=Priority.P3) for _ in range(12)]
    with (
        django_capture_on_commit_callbacks(execute=True),
        delivery.deliveries_enqueued_together(),
    ):
        sent = [send_test_message(incident, agent) for incident in incidents]

    tasks = [task.task for task in OrmQ.objects.order_by("id")]
    assert [task["func"] for task in tasks] == [
        "comms.tasks.deliver_messages",
        "comms.tasks.deliver_messages",
    ]
    assert [pk for task in tasks for pk in task["args"][0]] == [m.pk for m in sent]


@pytest.mark.django_db
def test_a_grouped_delivery_task_sends_each_message_once(agent, smtp_server):
    from comms import tasks

    sent = [send_test_message(IncidentFactory(), agent) for _ in range(2)]

    outcome = tasks.deliver_messages([m.pk for m in sent])
    again = tasks.deliver_messages([m.pk for m in sent])

    assert outcome == {m.pk: Message.Status.SENT for m in sent}
    assert again == {m.pk: "not claimed" for m in sent}
    assert len(smtp_server.messages) == 2


def _systemic_notice(agent, manager, customers: int):
    """A customer update on a systemic incident that reaches ``customers``,
    approved once by a manager."""
    from incidents.models import AffectedCustomer
    from tests.factories import CustomerFactory

    incident = IncidentFactory(is_systemic=True, customer=None, priority="P3")
    for n in range(customers):
        AffectedCustomer.objects.create(
            incident=incident,
            customer=CustomerFactory(email=f"driver{n}@fleet.example"),
            added_at=incident.created_at,
        )
    from comms.selectors import customer_addresses

    message = send_test_message(
        incident, agent, recipients=customer_addresses(incident)
    )
    assert message.status == Message.Status.AWAITING_APPROVAL
    return services.approve_message(
        message=message, actor=manager, subject=message.subject, body=message.body
    )


@pytest.mark.django_db
def test_a_notice_to_many_goes_in_chunks_over_tasks_one_email_each(
    agent, manager, smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.COMMS_DELIVERY_CHUNK = 3
    settings.COMMS_DELIVERY_CHUNKS_PER_TASK = 2
    message = _systemic_notice(agent, manager, 14)
    assert len(message.recipients) == 14 and message.status == "queued"

    tasks = 0
    while message.status != Message.Status.SENT and tasks < 10:
        with django_capture_on_commit_callbacks(execute=False):
            services.deliver_message(message_id=message.pk)
        message.refresh_from_db()
        tasks += 1

    # 14 e-mails, 6 a task: three tasks, each taking its share.
    assert tasks == 3
    received = [envelope.rcpt_tos for envelope in smtp_server.messages]
    assert sorted(to for (to,) in received) == sorted(message.recipients)
    assert message.delivered_to == message.recipients
    assert message.attempts == 1  # a hand-on is not a failed attempt
    assert message.handing_over_to == [] and message.in_doubt_to == []


@pytest.mark.django_db
def test_a_worker_killed_mid_notice_leaves_one_chunk_in_doubt_and_sends_none_twice(
    agent, manager, smtp_server, settings, frozen_now, time_machine, client
):
    settings.COMMS_DELIVERY_CHUNK = 4
    message = _systemic_notice(agent, manager, 10)
    first, doubtful = message.recipients[:4], message.recipients[4:8]
    # What a worker killed while handing over the second chunk leaves behind.
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.SENDING,
        claimed_at=frozen_now,
        attempts=1,
        delivered_to=first,
        handing_over_to=doubtful,
    )
    time_machine.move_to(
        frozen_now + dt.timedelta(seconds=settings.COMMS_STALE_CLAIM_SECONDS + 1),
        tick=False,
    )

    result = services.due_work(timezone.now())
    message.refresh_from_db()
    assert result["stale"] == 1
    assert message.status == Message.Status.QUEUED
    assert message.in_doubt_to == doubtful and message.handing_over_to == []
    assert "may or may not have arrived" in message.last_error
    services.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    sent = [to for envelope in smtp_server.messages for to in envelope.rcpt_tos]
    assert sorted(sent) == sorted(message.recipients[8:])
    event = message.incident.timeline_events.filter(kind="message_failed").get()
    assert doubtful[0] in event.details["error"]
    client.force_login(agent)
    page = client.get(
        reverse("comms:incident_messages", args=[message.incident_id])
    ).content.decode()
    assert "May or may not have reached 4 readers" in page
    assert doubtful[-1] in page


@pytest.mark.django_db
def test_a_worker_that_lost_its_claim_hands_over_nothing_more(
    agent, manager, smtp_server, settings, monkeypatch
):
    from comms import channels as comms_channels

    settings.COMMS_DELIVERY_CHUNK = 2
    message = _systemic_notice(agent, manager, 6)
    send = comms_channels._Session.send
    sent = []

    def then_the_sweep_moves_it_on(self, email):
        send(self, email)
        sent.append(email.to)
        if len(sent) == 2:
            # Meanwhile the stale-claim sweep gave the send to another worker.
            Message.objects.filter(pk=message.pk).update(
                claimed_at=timezone.now() + dt.timedelta(seconds=1)
            )

    monkeypatch.setattr(comms_channels._Session, "send", then_the_sweep_moves_it_on)
    services.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert len(smtp_server.messages) == 2
    assert message.status == Message.Status.SENDING  # the other worker's now


@pytest.mark.django_db
def test_a_mail_server_that_ends_sessions_gets_a_new_one(
    agent, manager, settings, smtp_server
):
    from aiosmtpd.smtp import SMTP

    # Many relays take a few e-mails per session, then answer 421.
    original = SMTP.smtp_MAIL
    counts = {}

    async def capped_mail(self, arg):
        counts[id(self)] = counts.get(id(self), 0) + 1
        if counts[id(self)] > 3:
            await self.push("421 Too many messages in this session")
            return
        return await original(self, arg)

    SMTP.smtp_MAIL = capped_mail
    try:
        message = _systemic_notice(agent, manager, 10)
        services.deliver_message(message_id=message.pk)
    finally:
        SMTP.smtp_MAIL = original

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    received = sorted(to for e in smtp_server.messages for to in e.rcpt_tos)
    assert received == sorted(message.recipients)


@pytest.mark.django_db
def test_a_worker_dead_after_its_last_email_settles_the_message_as_sent(
    agent, manager, smtp_server, settings, frozen_now, time_machine
):
    message = _systemic_notice(agent, manager, 3)
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.SENDING,
        claimed_at=frozen_now,
        attempts=1,
        delivered_to=message.recipients,
    )
    time_machine.move_to(
        frozen_now + dt.timedelta(seconds=settings.COMMS_STALE_CLAIM_SECONDS + 1),
        tick=False,
    )

    services.due_work(timezone.now())

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert smtp_server.messages == []


@pytest.mark.django_db
def test_retrying_after_a_check_sends_to_those_in_doubt_too(
    agent, manager, smtp_server, settings, frozen_now, time_machine
):
    message = _systemic_notice(agent, manager, 3)
    doubtful = message.recipients[:1]
    Message.objects.filter(pk=message.pk).update(
        status=Message.Status.SENDING,
        claimed_at=frozen_now,
        attempts=1,
        delivered_to=message.recipients[1:],
        handing_over_to=doubtful,
    )
    time_machine.move_to(
        frozen_now + dt.timedelta(seconds=settings.COMMS_STALE_CLAIM_SECONDS + 1),
        tick=False,
    )
    services.due_work(timezone.now())
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.in_doubt_to == doubtful

    with pytest.raises(ValidationError) as asked:
        services.retry_message(message=message, actor=manager)
    assert "may have it already" in asked.value.messages[0]
    services.retry_message(message=message, actor=manager, confirmed=True)
    services.deliver_message(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert [to for e in smtp_server.messages for to in e.rcpt_tos] == doubtful


@pytest.mark.django_db
def test_pages_name_a_few_readers_of_a_notice_to_many_and_count_the_rest(
    agent, manager, smtp_server, client
):
    message = _systemic_notice(agent, manager, 14)
    services.deliver_message(message_id=message.pk)
    client.force_login(agent)

    messages_tab = client.get(
        reverse("comms:incident_messages", args=[message.incident_id])
    ).content.decode()
    detail = client.get(message.incident.get_absolute_url()).content.decode()

    sent = message.incident.timeline_events.get(kind="message_sent")
    assert len(sent.details["recipients"]) == 10
    assert sent.details["recipient_count"] == 14
    assert "driver9@fleet.example and 4 more" in messages_tab
    assert "driver13@fleet.example" not in messages_tab
    assert "driver9@fleet.example and 4 more" in detail
