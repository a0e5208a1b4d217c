"""Signed outbound webhooks (issue 28, point 2): events from the timeline,
posted by the cluster to a receiver on loopback, retried, paused, replayed."""

import datetime as dt
import hashlib
import hmac
import json
import time

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Priority, TimelineEvent
from integrations import services, signals
from integrations.models import WebhookDelivery, WebhookEndpoint
from portal.tasks import run_due_work
from tests.factories import IncidentFactory
from tests.integrations.conftest import bodies

pytestmark = pytest.mark.django_db

TOLERANCE_SECONDS = 5 * 60


def verify(secret: str, raw_body: bytes, signature_header: str) -> bool:
    """The receiver's check, as docs/webhooks.md gives it."""
    try:
        parts = dict(item.split("=", 1) for item in signature_header.split(","))
        timestamp = int(parts["t"])
        received = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + raw_body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, received)


def test_opening_an_incident_posts_incident_opened_signed(
    endpoint,
    receiver,
    agent,
    frozen_now,
    q2_sync,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.PORTAL_BASE_URL = "https://switchboard.example.com/"

    with django_capture_on_commit_callbacks(execute=True):
        incident = IncidentFactory(actor=agent, priority=Priority.P2)

    (call,) = receiver.calls
    headers, raw = call["headers"], call["raw"]
    assert call["path"] == "/hooks/switchboard"
    assert verify(endpoint.secret, raw, headers["Switchboard-Signature"])
    assert not verify(endpoint.secret, raw + b" ", headers["Switchboard-Signature"])
    assert not verify("another secret", raw, headers["Switchboard-Signature"])
    body = json.loads(raw)
    assert body["event"] == headers["Switchboard-Event"] == "incident.opened"
    assert body["id"] == headers["Switchboard-Delivery"]
    assert body["occurred_at"] == "2026-11-18T12:00:00Z"
    assert body["incident"] == {
        "id": incident.pk,
        "reference": incident.reference,
        "title": incident.title,
        "priority": "P2",
        "status": "new",
        "url": f"https://switchboard.example.com/incidents/{incident.pk}/",
    }
    assert body["actor"] == "agent-a"
    assert body["kind"] == "opened"
    assert body["data"]["priority"] == "P2"
    delivery = WebhookDelivery.objects.get()
    assert str(delivery.event_id) == body["id"]
    assert (delivery.status, delivery.attempts, delivery.response_code) == (
        "sent",
        1,
        204,
    )
    assert delivery.response_ms is not None
    assert delivery.sent_at == frozen_now
    assert delivery.incident == incident


def test_a_stale_signature_is_refused_by_the_documented_check(
    endpoint,
    receiver,
    frozen_now,
    time_machine,
    q2_sync,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        IncidentFactory()
    (call,) = receiver.calls

    time_machine.move_to(frozen_now + dt.timedelta(minutes=6), tick=False)

    assert not verify(
        endpoint.secret, call["raw"], call["headers"]["Switchboard-Signature"]
    )


def test_an_endpoint_gets_only_the_events_it_subscribes_to(
    receiver, agent, q2_sync, django_capture_on_commit_callbacks
):
    WebhookEndpoint.objects.create(
        name="Credits only", url=f"{receiver.url}/credits", events=["credit.decided"]
    )

    with django_capture_on_commit_callbacks(execute=True):
        IncidentFactory(actor=agent)

    assert receiver.calls == []
    assert not WebhookDelivery.objects.exists()


def test_a_rolled_back_act_sends_nothing(
    endpoint, receiver, agent, q2_sync, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        IncidentFactory(actor=agent)
        raise RuntimeError("the act fails after its timeline entry")

    assert receiver.calls == []
    assert not WebhookDelivery.objects.exists()


def test_resolving_posts_status_changed_and_resolved_with_their_own_ids(
    endpoint, receiver, agent, q2_sync, django_capture_on_commit_callbacks
):
    incident = IncidentFactory(actor=agent, status="investigating")

    with django_capture_on_commit_callbacks(execute=True):
        incident_services.move_incident(
            incident=incident, actor=agent, to_status="resolved"
        )

    sent = {body["event"]: body for body in bodies(receiver)}
    assert set(sent) == {"incident.status_changed", "incident.resolved"}
    assert sent["incident.status_changed"]["id"] != sent["incident.resolved"]["id"]
    for body in sent.values():
        assert body["data"]["changes"]["status"] == ["investigating", "resolved"]
        assert body["incident"]["status"] == "resolved"


def test_a_priority_edit_posts_priority_changed(
    receiver, agent, q2_sync, django_capture_on_commit_callbacks
):
    WebhookEndpoint.objects.create(
        name="Priorities", url=receiver.url, events=["incident.priority_changed"]
    )
    incident = IncidentFactory(actor=agent, priority=Priority.P3)

    with django_capture_on_commit_callbacks(execute=True):
        incident_services.edit_incident_details(
            incident=incident,
            actor=agent,
            expected_version=incident.version,
            changes={"priority": Priority.P2, "priority_reason": "Key account."},
        )

    (body,) = bodies(receiver)
    assert body["event"] == "incident.priority_changed"
    assert body["data"]["changes"]["priority"] == ["P3", "P2"]
    assert body["incident"]["priority"] == "P2"


def test_a_refused_delivery_is_retried_with_a_doubling_delay_then_given_up(
    endpoint,
    receiver,
    frozen_now,
    time_machine,
    q2_sync,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.INTEGRATIONS_WEBHOOK_MAX_ATTEMPTS = 3
    settings.INTEGRATIONS_WEBHOOK_RETRY_SECONDS = 30
    receiver.statuses = [500, 503, 500]

    with django_capture_on_commit_callbacks(execute=True):
        IncidentFactory()

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (
        "pending",
        1,
        500,
    )
    assert delivery.next_attempt_at == frozen_now + dt.timedelta(seconds=30)
    assert delivery.last_error == "Answered 500"

    # Not due yet: the sweep leaves it.
    with django_capture_on_commit_callbacks(execute=True):
        services.due_work(frozen_now + dt.timedelta(seconds=29))
    assert len(receiver.calls) == 1

    time_machine.move_to(frozen_now + dt.timedelta(seconds=30), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.due_work(frozen_now + dt.timedelta(seconds=30))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response_code) == (
        "pending",
        2,
        503,
    )
    assert delivery.next_attempt_at == frozen_now + dt.timedelta(seconds=90)

    time_machine.move_to(frozen_now + dt.timedelta(seconds=90), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.due_work(frozen_now + dt.timedelta(seconds=90))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        "failed",
        3,
        None,
    )
    assert len(receiver.calls) == 3
    assert (
        len({call["headers"]["Switchboard-Delivery"] for call in receiver.calls}) == 1
    )
    assert WebhookEndpoint.objects.get().consecutive_failures == 3


def test_a_redirect_is_not_followed_and_counts_as_a_failure(
    endpoint, receiver, q2_sync, django_capture_on_commit_callbacks
):
    receiver.statuses = [302]

    with django_capture_on_commit_callbacks(execute=True):
        IncidentFactory()

    assert [call["path"] for call in receiver.calls] == ["/hooks/switchboard"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_code) == ("pending", 302)
    assert "redirects are not followed" in delivery.last_error


def test_an_endpoint_that_does_not_answer_is_retried(
    q2_sync, django_capture_on_commit_callbacks
):
    # A port nobody listens on: bound and closed again.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    WebhookEndpoint.objects.create(
        name="Down", url=f"http://127.0.0.1:{port}/", events=["incident.opened"]
    )

    with django_capture_on_commit_callbacks(execute=True):
        IncidentFactory()

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_code) == ("pending", None)
    assert delivery.last_error.startswith("No answer")


def test_twenty_failures_in_a_row_pause_the_endpoint_and_tell_the_admins(
    endpoint,
    receiver,
    admin_user,
    q2_sync,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.ADMINS = [("Operations", "ops@example.com")]
    settings.INTEGRATIONS_WEBHOOK_NOTICE_EMAILS = ["integrations@example.com"]
    receiver.statuses = [500] * 20

    for _ in range(20):
        with django_capture_on_commit_callbacks(execute=True):
            services.send_test_event(endpoint=endpoint, actor=admin_user)

    endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert endpoint.paused_at is not None
    assert endpoint.consecutive_failures == 20
    assert "20 failed deliveries in a row" in endpoint.paused_reason
    assert "Answered 500" in endpoint.paused_reason
    assert [m.to for m in mail.outbox] == [
        ["ops@example.com"],
        ["integrations@example.com"],
    ]
    assert endpoint.name in mail.outbox[0].subject
    assert f"/admin/integrations/webhookendpoint/{endpoint.pk}/" in mail.outbox[0].body

    # Paused: no new deliveries, and no test event either.
    with django_capture_on_commit_callbacks(execute=True):
        IncidentFactory()
    assert WebhookDelivery.objects.count() == 20
    with pytest.raises(ValidationError) as exc_info:
        services.send_test_event(endpoint=endpoint, actor=admin_user)
    assert exc_info.value.code == "endpoint_paused"


def test_a_success_resets_the_failure_count(
    endpoint, receiver, admin_user, q2_sync, django_capture_on_commit_callbacks
):
    receiver.statuses = [500, 500]
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            services.send_test_event(endpoint=endpoint, actor=admin_user)
    assert WebhookEndpoint.objects.get().consecutive_failures == 2

    with django_capture_on_commit_callbacks(execute=True):
        services.send_test_event(endpoint=endpoint, actor=admin_user)

    assert WebhookEndpoint.objects.get().consecutive_failures == 0


def test_a_ping_reaches_an_endpoint_whatever_it_subscribes_to(
    receiver, admin_user, q2_sync, django_capture_on_commit_callbacks
):
    endpoint = WebhookEndpoint.objects.create(
        name="Credits", url=receiver.url, events=["credit.decided"]
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.send_test_event(endpoint=endpoint, actor=admin_user)

    (call,) = receiver.calls
    body = json.loads(call["raw"])
    assert (body["event"], body["incident"], body["actor"]) == ("ping", None, "admin-a")
    assert verify(
        endpoint.secret, call["raw"], call["headers"]["Switchboard-Signature"]
    )


def test_a_paused_endpoint_holds_its_deliveries_until_resumed(
    endpoint, receiver, admin_user, q2_sync, django_capture_on_commit_callbacks
):
    IncidentFactory()  # its task never runs: the test's transaction never commits
    services.pause_endpoint(endpoint=endpoint, actor=admin_user)

    held = services.deliver_webhook(delivery_id=WebhookDelivery.objects.get().pk)
    with django_capture_on_commit_callbacks(execute=True):
        swept = services.due_work(timezone.now())

    assert (held.status, held.attempts) == ("pending", 0)
    assert swept["webhooks_due"] == 0
    assert receiver.calls == []

    services.resume_endpoint(endpoint=endpoint, actor=admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        swept = services.due_work(timezone.now())

    assert swept["webhooks_due"] == 1
    assert len(receiver.calls) == 1
    assert WebhookDelivery.objects.get().status == "sent"


def test_the_sweep_sends_again_what_a_dead_worker_held(
    endpoint, receiver, frozen_now, q2_sync, django_capture_on_commit_callbacks
):
    IncidentFactory()
    delivery = WebhookDelivery.objects.get()
    # A worker claimed it three minutes ago and died (the cluster's timeout
    # is 60 s: twice that has passed).
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status="sending",
        attempts=1,
        claimed_at=frozen_now - dt.timedelta(minutes=3),
    )

    with django_capture_on_commit_callbacks(execute=True):
        swept = services.due_work(frozen_now)

    assert swept == {"webhooks_due": 1, "webhooks_recovered": 1}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    (body,) = bodies(receiver)
    assert body["id"] == str(delivery.event_id)


def test_a_recent_claim_is_left_to_its_worker(endpoint, frozen_now):
    IncidentFactory()
    WebhookDelivery.objects.update(
        status="sending", claimed_at=frozen_now - dt.timedelta(seconds=90)
    )

    assert services.due_work(frozen_now) == {
        "webhooks_due": 0,
        "webhooks_recovered": 0,
    }


def test_a_delivery_whose_task_was_lost_is_sent_by_the_sweep(
    endpoint, receiver, frozen_now, q2_sync, django_capture_on_commit_callbacks
):
    IncidentFactory()  # enqueued on a commit that never comes: lost

    with django_capture_on_commit_callbacks(execute=True):
        early = services.due_work(frozen_now + dt.timedelta(seconds=30))
    with django_capture_on_commit_callbacks(execute=True):
        later = services.due_work(frozen_now + services.LOST_TASK_AFTER)

    assert (early["webhooks_due"], later["webhooks_due"]) == (0, 1)
    assert len(receiver.calls) == 1


def test_the_per_minute_sweep_runs_the_webhooks_share(frozen_now):
    done = run_due_work(frozen_now, dry_run=True)

    assert done["integrations"] == {"webhooks_due": 0, "webhooks_recovered": 0}


# --- Cost with nothing to deliver -------------------------------------------


def test_a_timeline_entry_costs_no_query_when_no_endpoint_wants_it(
    receiver, django_assert_num_queries
):
    WebhookEndpoint.objects.create(
        name="Credits", url=receiver.url, events=["credit.decided"]
    )
    incident = IncidentFactory()  # reads the endpoints once, for a minute
    entry = TimelineEvent(
        incident=incident, kind="opened", created_at=timezone.now(), details={}
    )

    with django_assert_num_queries(0):
        signals.timeline_event_saved(TimelineEvent, entry, created=True)


def test_opening_an_incident_costs_no_extra_query_without_endpoints(agent):
    IncidentFactory(actor=agent)  # the endpoints are read once, for a minute

    with CaptureQueriesContext(connection) as listened:
        IncidentFactory(actor=agent)
    post_save.disconnect(
        sender=TimelineEvent, dispatch_uid="integrations.timeline_event_saved"
    )
    try:
        with CaptureQueriesContext(connection) as unheard:
            IncidentFactory(actor=agent)
    finally:
        signals.connect()

    assert len(listened) == len(unheard)


def test_an_endpoint_paused_in_another_process_gets_nothing(
    endpoint, receiver, q2_sync, django_capture_on_commit_callbacks
):
    IncidentFactory()  # this process now holds the endpoint as active
    # Paused elsewhere: no signal reaches this process's cache.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False, paused_at=timezone.now()
    )

    with django_capture_on_commit_callbacks(execute=True):
        IncidentFactory()

    assert WebhookDelivery.objects.count() == 1  # the first incident's


def test_changing_an_endpoint_reaches_this_process_at_once(
    endpoint, receiver, q2_sync, django_capture_on_commit_callbacks
):
    IncidentFactory()
    endpoint.events = ["credit.decided"]
    endpoint.save()

    IncidentFactory()

    assert WebhookDelivery.objects.count() == 1


def test_a_failing_webhook_never_takes_the_act_down(
    endpoint, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise RuntimeError("a bug in the webhooks")

    monkeypatch.setattr(services, "queue_timeline_event", broken)

    with django_capture_on_commit_callbacks(execute=True):
        incident = IncidentFactory()

    assert incident.timeline_events.filter(kind="opened").exists()
    assert not WebhookDelivery.objects.exists()
