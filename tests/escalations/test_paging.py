"""Real paging (issue 28, point 4): a tier's own pager, PagerDuty's Events
API v2 or a plain HTTP webhook, triggered when its on-call person is paged,
acknowledged when a member takes the escalation, resolved when it ends;
tested against a receiver on loopback."""

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from escalations import services
from escalations.models import PageDelivery, Tier
from escalations.services import paging as paging_services
from incidents.models import Priority, TimelineEvent
from tests.factories import IncidentFactory, request_test_escalation

pytestmark = pytest.mark.django_db

URGENT = {"why_urgent": "Outage for 40 customers", "immediate_risk": "Churn"}


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", 0))
        self.server.calls.append(
            {
                "path": self.path,
                "headers": dict(self.headers),
                "body": json.loads(self.rfile.read(length)),
            }
        )
        status = self.server.statuses.pop(0) if self.server.statuses else 202
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "success"}')

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.calls, server.statuses = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def tier3(senior, fleet_policy, receiver):
    tier = Tier.objects.get(policy=fleet_policy, key="tier3")
    tier.members.add(senior)
    tier.pager = "pagerduty"
    tier.pager_key = "R0UT1NGKEY"
    tier.pager_url = f"{receiver.url}/v2/enqueue"  # PagerDuty's, on loopback
    tier.save()
    return tier


def _page_out_of_hours(incident, agent, capture):
    # Wednesday 04:00 in Los Angeles: outside Tier 3's hours; a P1 pages.
    with capture(execute=True):
        (escalation,) = request_test_escalation(
            incident, agent, tier_key="tier3", path="urgent", path_details=URGENT
        )
    return escalation


def test_pagerduty_is_triggered_acknowledged_and_resolved_with_the_escalation(
    agent,
    senior,
    tier3,
    fleet_customer,
    receiver,
    frozen_now,
    q2_sync,
    django_capture_on_commit_callbacks,
):
    incident = IncidentFactory(customer=fleet_customer, priority=Priority.P1)

    escalation = _page_out_of_hours(incident, agent, django_capture_on_commit_callbacks)

    (trigger,) = receiver.calls
    assert trigger["path"] == "/v2/enqueue"
    event = trigger["body"]
    assert event["routing_key"] == "R0UT1NGKEY"
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == f"switchboard-escalation-{escalation.pk}"
    assert event["payload"]["severity"] == "critical"
    assert incident.reference in event["payload"]["summary"]
    assert event["payload"]["custom_details"]["why"] == "Outage for 40 customers"
    assert incident.timeline_events.filter(
        kind=TimelineEvent.Kind.ON_CALL_PAGED
    ).exists()

    with django_capture_on_commit_callbacks(execute=True):
        services.acknowledge_escalation(escalation=escalation, actor=senior)
    with django_capture_on_commit_callbacks(execute=True):
        services.resolve_escalation(
            escalation=escalation, actor=senior, outcome="Restarted the workers."
        )

    assert [c["body"]["event_action"] for c in receiver.calls] == [
        "trigger",
        "acknowledge",
        "resolve",
    ]
    assert {c["body"]["dedup_key"] for c in receiver.calls} == {event["dedup_key"]}
    assert set(PageDelivery.objects.values_list("status", "response_code")) == {
        ("sent", 202)
    }


def test_a_refused_page_is_retried_with_a_doubling_delay_then_given_up(
    agent,
    tier3,
    fleet_customer,
    receiver,
    frozen_now,
    time_machine,
    q2_sync,
    django_capture_on_commit_callbacks,
    settings,
):
    settings.ESCALATION_PAGER_MAX_ATTEMPTS = 3
    settings.ESCALATION_PAGER_RETRY_SECONDS = 30
    receiver.statuses = [500, 503, 500]
    incident = IncidentFactory(customer=fleet_customer, priority=Priority.P1)

    _page_out_of_hours(incident, agent, django_capture_on_commit_callbacks)

    page = PageDelivery.objects.get()
    assert (page.status, page.attempts) == ("pending", 1)
    assert page.next_attempt_at == frozen_now + dt.timedelta(seconds=30)
    assert "answered 500" in page.last_error

    # Not due yet: the sweep leaves it.
    with django_capture_on_commit_callbacks(execute=True):
        paging_services.due_work(frozen_now + dt.timedelta(seconds=29))
    assert len(receiver.calls) == 1

    time_machine.move_to(frozen_now + dt.timedelta(seconds=30), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        paging_services.due_work(frozen_now + dt.timedelta(seconds=30))
    page.refresh_from_db()
    assert (page.status, page.attempts) == ("pending", 2)
    assert page.next_attempt_at == frozen_now + dt.timedelta(seconds=90)

    time_machine.move_to(frozen_now + dt.timedelta(seconds=90), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        paging_services.due_work(frozen_now + dt.timedelta(seconds=90))
    page.refresh_from_db()
    assert (page.status, page.attempts, page.next_attempt_at) == ("failed", 3, None)
    assert len(receiver.calls) == 3


def test_a_generic_http_pager_gets_the_page_with_its_bearer_token(
    agent,
    tier3,
    fleet_customer,
    receiver,
    frozen_now,
    q2_sync,
    django_capture_on_commit_callbacks,
):
    Tier.objects.filter(pk=tier3.pk).update(
        pager="http", pager_url=f"{receiver.url}/pages", pager_key="s3cret"
    )
    incident = IncidentFactory(customer=fleet_customer, priority=Priority.P1)

    escalation = _page_out_of_hours(incident, agent, django_capture_on_commit_callbacks)

    (call,) = receiver.calls
    assert call["path"] == "/pages"
    assert call["headers"]["Authorization"] == "Bearer s3cret"
    assert call["body"]["event"] == "trigger"
    assert call["body"]["incident"] == incident.reference
    assert call["body"]["dedup_key"] == f"switchboard-escalation-{escalation.pk}"


def test_an_escalation_that_was_never_paged_sends_no_acknowledge(
    agent,
    senior,
    tier3,
    fleet_customer,
    receiver,
    frozen_now,
    time_machine,
    q2_sync,
    django_capture_on_commit_callbacks,
):
    # Wednesday 10:00 in Los Angeles, a P2: in hours, nobody is paged.
    time_machine.move_to(frozen_now + dt.timedelta(hours=6), tick=False)
    incident = IncidentFactory(customer=fleet_customer, priority=Priority.P2)
    (escalation,) = request_test_escalation(
        incident, agent, tier_key="tier3", path="urgent", path_details=URGENT
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.acknowledge_escalation(escalation=escalation, actor=senior)

    assert receiver.calls == []
    assert not PageDelivery.objects.exists()


def test_a_pagerduty_tier_needs_its_routing_key(fleet_policy):
    from django.core.exceptions import ValidationError

    tier = Tier.objects.get(policy=fleet_policy, key="tier3")
    tier.pager = "pagerduty"

    with pytest.raises(ValidationError) as refused:
        tier.full_clean()

    assert "routing key" in str(refused.value.message_dict["pager_key"])


def test_an_escalation_restored_by_a_reopening_pages_again(
    agent,
    tier3,
    fleet_customer,
    receiver,
    frozen_now,
    q2_sync,
    django_capture_on_commit_callbacks,
):
    incident = IncidentFactory(customer=fleet_customer, priority=Priority.P1)
    _page_out_of_hours(incident, agent, django_capture_on_commit_callbacks)
    # The incident closes: the escalation ends and its alert is resolved.
    from incidents.models import Incident

    Incident.objects.filter(pk=incident.pk).update(
        status="closed",
        resolved_at=frozen_now,
        closed_at=frozen_now,
        fix_summary="Fixed.",
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.decisions.end_escalations_of_closed_incidents(frozen_now)
    # Reopened: the escalation is back in its queue, and its tier paged again.
    Incident.objects.filter(pk=incident.pk).update(
        status="investigating", resolved_at=None, closed_at=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.decisions.restore_escalations_of_reopened_incidents(frozen_now)

    assert [c["body"]["event_action"] for c in receiver.calls] == [
        "trigger",
        "resolve",
        "trigger",
    ]
    assert list(
        PageDelivery.objects.order_by("pk").values_list("episode", "action")
    ) == [(1, "trigger"), (1, "resolve"), (2, "trigger")]
