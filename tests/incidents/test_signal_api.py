import json

import pytest
from django.db import connection
from django.urls import reverse

from comms.models import MonitoringIntegration, SignalReceipt
from comms.services import monitoring
from incidents.models import Category, Incident, Policy, Signal, TimelineEvent
from tests.concurrency import run_at_once
from tests.factories import CustomerFactory, monitoring_token, settle_checklists


@pytest.fixture
def integration(db):
    Signal.objects.filter(code__in=["SIG-002", "SIG-008"]).update(
        priority="P2", category=Category.objects.get(slug="network")
    )
    return monitoring_token()


def post_signal(client, token, payload, auth="Bearer"):
    return client.post(
        reverse("comms:signal_api"),
        data=json.dumps(payload) if not isinstance(payload, str) else payload,
        content_type="application/json",
        headers={"Authorization": f"{auth} {token}"} if token else {},
    )


def land_signal(client, token, payload):
    """Post a signal, let the cluster's task process it, return what the status says."""
    response = post_signal(client, token, payload)
    assert response.status_code == 202, response.content
    receipt = response.json()["receipt"]
    monitoring.process_signal(receipt_id=receipt)
    return client.get(
        reverse("comms:signal_status", args=[receipt]),
        headers={"Authorization": f"Bearer {token}"},
    )


def signal(**overrides):
    return {
        "signal": "SIG-002",
        "dedup_key": "tower-17-outage",
        "description": "Data sessions drop near tower 17.",
        "customers": [],
        **overrides,
    }


@pytest.mark.django_db
def test_a_new_signal_opens_a_proactive_incident_with_the_catalogue_priority(
    client, integration
):
    _, token = integration
    customer = CustomerFactory()

    response = land_signal(client, token, signal(customers=[customer.account_id]))

    assert response.json()["opened"] is True
    incident = Incident.objects.get()
    assert response.json()["incident"] == incident.reference
    assert (incident.priority, incident.signal.code, incident.category.slug) == (
        "P2",
        "SIG-002",
        "network",
    )
    assert incident.customer == customer
    assert not incident.is_systemic
    assert incident.timeline_events.filter(
        kind=TimelineEvent.Kind.SIGNAL_RECEIVED
    ).exists()


@pytest.mark.django_db
def test_a_repeated_dedup_key_joins_the_open_incident_even_from_another_code(
    client, integration
):
    _, token = integration
    land_signal(client, token, signal())

    response = land_signal(client, token, signal(signal="SIG-008"))

    assert response.json()["opened"] is False
    assert Incident.objects.count() == 1
    assert SignalReceipt.objects.count() == 2


@pytest.mark.django_db
def test_a_repeat_after_the_incident_closed_opens_a_new_one(client, integration):
    from incidents import services as incident_services

    _, token = integration
    land_signal(client, token, signal())
    incident = Incident.objects.get()
    for step in ("investigating", "resolved", "closed"):
        if step == "closed":
            settle_checklists(incident)
        incident = incident_services.move_incident(
            incident=incident, actor=None, to_status=step
        )

    response = land_signal(client, token, signal())

    assert response.json()["opened"] is True
    assert Incident.objects.count() == 2


@pytest.mark.django_db
def test_more_customers_than_the_threshold_make_the_incident_systemic(
    client, integration
):
    _, token = integration
    Policy.objects.filter(is_default=True).update(systemic_threshold=2)
    customers = [CustomerFactory() for _ in range(4)]
    land_signal(client, token, signal(customers=[customers[0].account_id]))
    incident = Incident.objects.get()
    assert not incident.is_systemic

    land_signal(
        client,
        token,
        signal(customers=[c.email for c in customers[1:]] + ["ACC-UNKNOWN"]),
    )

    incident.refresh_from_db()
    assert incident.is_systemic
    assert incident.affected_customers.count() == 3
    assert SignalReceipt.objects.first().unknown_customers == ["ACC-UNKNOWN"]


@pytest.mark.django_db
def test_a_signal_over_the_threshold_opens_a_systemic_incident(client, integration):
    _, token = integration
    Policy.objects.filter(is_default=True).update(systemic_threshold=1)
    customers = [CustomerFactory() for _ in range(2)]

    land_signal(client, token, signal(customers=[c.account_id for c in customers]))

    incident = Incident.objects.get()
    assert incident.is_systemic and incident.customer is None
    assert incident.affected_customers.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("auth", "token"),
    [("Bearer", "sbm_wrong"), ("Bearer", ""), ("Basic", None)],
)
def test_a_bad_token_gets_401(client, integration, auth, token):
    _, good = integration

    response = post_signal(client, good if token is None else token, signal(), auth)

    assert response.status_code == 401
    assert "error" in response.json()
    assert not SignalReceipt.objects.exists()


@pytest.mark.django_db
def test_an_inactive_integration_is_refused(client, integration):
    row, token = integration
    MonitoringIntegration.objects.filter(pk=row.pk).update(is_active=False)

    assert post_signal(client, token, signal()).status_code == 401


@pytest.mark.django_db
def test_only_the_token_hash_is_stored(integration):
    row, token = integration

    row.refresh_from_db()
    assert token not in (row.token_hash, row.token_hint)
    assert len(row.token_hash) == 64


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"signal": "SIG-002"}, "dedup_key"),
        (signal(description=""), "description"),
        (signal(customers="ACC-1"), "customers"),
        (signal(customers=[1, 2]), "customers"),
        (signal(dedup_key="x" * 201), "dedup_key"),
        (signal(title=5), "title"),
        (["not", "an", "object"], "body"),
    ],
)
def test_a_malformed_signal_gets_400_naming_the_field(
    client, integration, payload, field
):
    _, token = integration

    response = post_signal(client, token, payload)

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_invalid_json_gets_400(client, integration):
    _, token = integration

    response = post_signal(client, token, "{oops")

    assert response.status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (signal(signal="SIG-999"), "unknown_signal"),
        (signal(signal="SIG-005"), "no_category"),
    ],
)
def test_signals_the_catalogue_cannot_place_get_422(client, integration, payload, code):
    _, token = integration

    response = post_signal(client, token, payload)

    assert response.status_code == 422
    assert response.json()["code"] == code
    assert not SignalReceipt.objects.exists()


@pytest.mark.django_db
def test_a_named_category_overrides_the_signals(client, integration):
    _, token = integration

    land_signal(client, token, signal(signal="SIG-005", category="payment"))

    assert Incident.objects.get().category.slug == "payment"


@pytest.mark.django_db
def test_signals_past_the_rate_limit_get_429(client, integration, frozen_now):
    row, token = integration
    MonitoringIntegration.objects.filter(pk=row.pk).update(rate_limit_per_minute=2)

    statuses = [
        post_signal(client, token, signal(dedup_key=f"k{n}")).status_code
        for n in range(3)
    ]

    assert statuses == [202, 202, 429]


@pytest.mark.django_db
def test_the_rate_window_moves_on_with_the_minute(
    client, integration, frozen_now, time_machine
):
    import datetime as dt

    row, token = integration
    MonitoringIntegration.objects.filter(pk=row.pk).update(rate_limit_per_minute=1)
    post_signal(client, token, signal(dedup_key="a"))

    time_machine.move_to(frozen_now + dt.timedelta(minutes=1), tick=False)

    assert post_signal(client, token, signal(dedup_key="b")).status_code == 202


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent requests need PostgreSQL"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_signals_with_one_key_at_once_open_one_incident(integration):
    row, _ = integration

    def land():
        receipt = monitoring.accept_signal(
            integration=row,
            code="SIG-002",
            dedup_key="same",
            description="Drop.",
            customers=[],
        )
        monitoring.process_signal(receipt_id=receipt.pk)

    assert run_at_once(land) == []
    assert Incident.objects.count() == 1
    assert SignalReceipt.objects.count() == 2


@pytest.mark.django_db
def test_a_repeat_needs_no_category_of_its_own(client, integration):
    _, token = integration
    land_signal(client, token, signal())

    response = land_signal(client, token, signal(signal="SIG-005"))

    assert response.json()["opened"] is False
    assert Incident.objects.count() == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent requests need PostgreSQL"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_requests_at_the_turn_of_a_minute_are_all_counted_under_the_limit(
    integration,
):
    import datetime as dt

    row, _ = integration
    MonitoringIntegration.objects.filter(pk=row.pk).update(
        rate_limit_per_minute=1_000_000
    )
    start = dt.datetime(2026, 11, 18, 12, 0, 30, tzinfo=dt.UTC)
    refused = []
    for turn in range(10):  # each turn starts a new minute, four requests at once
        now = start + dt.timedelta(minutes=turn + 1)

        def take(now=now):
            if not monitoring.take_rate_slot(integration=row, now=now):
                refused.append(now)

        assert run_at_once(take, times=4) == []
        row.refresh_from_db()
        assert row.window_count == 4, turn

    assert refused == []


@pytest.mark.django_db
def test_the_api_queues_the_signal_and_says_where_to_follow_it(client, integration):
    _, token = integration

    response = post_signal(client, token, signal())

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert response["Location"] == reverse(
        "comms:signal_status", args=[body["receipt"]]
    )
    assert not Incident.objects.exists()
    status = client.get(
        body["status_url"], headers={"Authorization": f"Bearer {token}"}
    )
    assert status.json()["status"] == "queued"
    assert "incident" not in status.json()


@pytest.mark.django_db
def test_the_task_queued_on_commit_opens_the_incident(
    client, integration, q2_sync, django_capture_on_commit_callbacks
):
    _, token = integration

    with django_capture_on_commit_callbacks(execute=True):
        response = post_signal(client, token, signal())

    receipt = SignalReceipt.objects.get(pk=response.json()["receipt"])
    assert receipt.status == SignalReceipt.Status.PROCESSED
    assert receipt.incident == Incident.objects.get()


@pytest.mark.django_db
def test_a_signal_is_applied_once_however_often_its_task_runs(client, integration):
    _, token = integration
    receipt = post_signal(client, token, signal()).json()["receipt"]

    first = monitoring.process_signal(receipt_id=receipt)
    again = monitoring.process_signal(receipt_id=receipt)

    assert first.status == SignalReceipt.Status.PROCESSED and again is None
    assert (
        TimelineEvent.objects.filter(kind=TimelineEvent.Kind.SIGNAL_RECEIVED).count()
        == 1
    )


@pytest.mark.django_db
def test_the_sweep_applies_a_signal_whose_task_was_lost(
    client, integration, frozen_now, settings
):
    import datetime as dt

    from portal.tasks import run_due_work

    _, token = integration
    post_signal(client, token, signal())
    lost_after = dt.timedelta(seconds=settings.COMMS_LOST_TASK_SECONDS)

    early = run_due_work(frozen_now + lost_after)
    assert early["comms"]["signals_recovered"] == 0
    assert not Incident.objects.exists()

    late = run_due_work(frozen_now + lost_after + dt.timedelta(seconds=1))
    assert late["comms"]["signals_recovered"] == 1
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_a_signal_the_catalogue_can_no_longer_place_fails_with_the_reason(
    client, integration
):
    _, token = integration
    receipt = post_signal(
        client, token, signal(signal="SIG-005", category="payment")
    ).json()["receipt"]
    Category.objects.filter(slug="payment").update(is_active=False)

    monitoring.process_signal(receipt_id=receipt)

    status = client.get(
        reverse("comms:signal_status", args=[receipt]),
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert status["status"] == "failed"
    assert "category" in status["error"]
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_an_integration_sees_only_its_own_receipts(client, integration):
    _, token = integration
    _, other_token = monitoring_token(name="Other monitoring")
    receipt = post_signal(client, token, signal()).json()["receipt"]
    url = reverse("comms:signal_status", args=[receipt])

    assert (
        client.get(url, headers={"Authorization": f"Bearer {other_token}"}).status_code
        == 404
    )
    assert client.get(url).status_code == 401


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent workers need PostgreSQL"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_on_one_receipt_apply_it_once(integration):
    row, _ = integration
    receipt = monitoring.accept_signal(
        integration=row,
        code="SIG-002",
        dedup_key="once",
        description="Drop.",
        customers=[],
    )

    errors = run_at_once(lambda: monitoring.process_signal(receipt_id=receipt.pk))

    assert errors == []
    assert Incident.objects.count() == 1
    assert (
        TimelineEvent.objects.filter(kind=TimelineEvent.Kind.SIGNAL_RECEIVED).count()
        == 1
    )


def test_the_shipped_signals_say_what_each_one_watches_for(admin_client):
    descriptions = dict(Signal.objects.values_list("code", "description"))

    assert len(descriptions) == 10
    assert not [d for d in descriptions.values() if d.startswith("Proactive")]
    assert len(set(descriptions.values())) == 10
    page = admin_client.get(reverse("incidents:create")).content.decode()
    assert "SIG-003 · eSIM profiles stuck in provisioning" in page
