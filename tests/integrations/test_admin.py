"""The webhooks' admin: endpoints with their actions, deliveries sent again."""

import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from integrations import services
from integrations.forms import WebhookEndpointForm
from integrations.models import WebhookDelivery, WebhookEndpoint
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db

ENDPOINTS = reverse("admin:integrations_webhookendpoint_changelist")
DELIVERIES = reverse("admin:integrations_webhookdelivery_changelist")


@pytest.fixture
def admin_client(client, integrations_admin):
    client.force_login(integrations_admin)
    return client


def _act(client, url, action, *objects):
    return client.post(
        url, {"action": action, "_selected_action": [o.pk for o in objects]}
    )


def _said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_send_again_from_the_admin_replays_with_the_same_event_id(
    endpoint, receiver, admin_client, q2_sync, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        IncidentFactory()
    original = WebhookDelivery.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        response = _act(admin_client, DELIVERIES, "send_again", original)

    assert response.status_code == 302
    assert _said(response) == ["1 delivery(ies) queued again with their event id."]
    first, again = receiver.calls
    assert (
        again["headers"]["Switchboard-Delivery"]
        == first["headers"]["Switchboard-Delivery"]
        == str(original.event_id)
    )
    assert json.loads(again["raw"]) == json.loads(first["raw"])
    replay = WebhookDelivery.objects.exclude(pk=original.pk).get()
    assert (replay.replay_of, replay.event_id, replay.status) == (
        original,
        original.event_id,
        "sent",
    )


def test_send_again_refuses_a_delivery_still_being_tried(endpoint, admin_client):
    IncidentFactory()  # its task waits for a commit that never comes
    waiting = WebhookDelivery.objects.get()

    response = _act(admin_client, DELIVERIES, "send_again", waiting)

    assert _said(response) == [f"Delivery {waiting.event_id} is still being tried."]
    assert WebhookDelivery.objects.count() == 1


def test_the_deliveries_can_be_found_by_event_id(endpoint, admin_client):
    IncidentFactory()
    IncidentFactory()
    wanted = WebhookDelivery.objects.first()

    found = admin_client.get(DELIVERIES, {"q": str(wanted.event_id)})
    garbage = admin_client.get(DELIVERIES, {"q": "not-a-uuid"})

    assert list(found.context["cl"].result_list) == [wanted]
    assert garbage.status_code == 200


def test_the_endpoint_list_says_which_endpoint_is_paused_and_why(
    endpoint, admin_client
):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False,
        paused_at=timezone.now(),
        paused_reason="Paused after 20 failed deliveries in a row; the last: "
        "Answered 500",
    )

    response = admin_client.get(ENDPOINTS)

    (said,) = _said(response)
    assert said.startswith("Warehouse is paused: Paused after 20 failed")
    assert "Answered 500" in response.content.decode()


def test_an_admin_adds_an_endpoint_with_its_events(admin_client):
    response = admin_client.post(
        reverse("admin:integrations_webhookendpoint_add"),
        {
            "name": "CRM",
            "url": "https://crm.example.com/hooks",
            "events": ["incident.opened", "credit.decided"],
        },
    )

    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["incident.opened", "credit.decided"]
    assert len(endpoint.secret) >= 40
    assert endpoint.is_active


def test_the_change_page_shows_the_secret(endpoint, admin_client):
    response = admin_client.get(
        reverse("admin:integrations_webhookendpoint_change", args=[endpoint.pk])
    )

    assert endpoint.secret in response.content.decode()


@pytest.mark.parametrize(
    ("url", "events", "field"),
    [
        ("ftp://example.com/hooks", ["incident.opened"], "url"),
        ("https://example.com/hooks", ["incident.deleted"], "events"),
        ("https://example.com/hooks", [], "events"),
    ],
)
def test_the_endpoint_form_refuses_what_cannot_be_delivered(url, events, field):
    form = WebhookEndpointForm({"name": "X", "url": url, "events": events})

    assert not form.is_valid()
    assert field in form.errors


def test_rotating_the_secret_gives_a_new_one(endpoint, admin_client):
    before = endpoint.secret

    response = _act(admin_client, ENDPOINTS, "rotate_secret", endpoint)

    endpoint.refresh_from_db()
    assert endpoint.secret != before
    assert _said(response) == [
        "New secret for 1 endpoint(s): give it to the receiver now."
    ]


def test_pausing_and_resuming_from_the_admin(endpoint, admin_client):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=7)

    _act(admin_client, ENDPOINTS, "pause", endpoint)
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.paused_reason) == (
        False,
        "Paused by admin-a.",
    )

    again = _act(admin_client, ENDPOINTS, "pause", endpoint)
    assert _said(again)[-1] == "Warehouse is paused already."

    _act(admin_client, ENDPOINTS, "resume", endpoint)
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.paused_at, endpoint.consecutive_failures) == (
        True,
        None,
        0,
    )


def test_sending_a_test_event_from_the_admin(
    endpoint, receiver, admin_client, q2_sync, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _act(admin_client, ENDPOINTS, "send_test_event", endpoint)

    assert response.status_code == 302
    (call,) = receiver.calls
    assert call["headers"]["Switchboard-Event"] == "ping"


def test_deliveries_are_read_only(endpoint, admin_client, integrations_admin):
    IncidentFactory()
    delivery = WebhookDelivery.objects.get()

    page = admin_client.get(
        reverse("admin:integrations_webhookdelivery_change", args=[delivery.pk])
    )
    refused = admin_client.post(
        reverse("admin:integrations_webhookdelivery_change", args=[delivery.pk]),
        {"status": "sent"},
    )

    assert page.status_code == 200
    assert "incident.opened" in page.content.decode()
    assert refused.status_code == 403
    assert WebhookDelivery.objects.get().status == "pending"


def test_resuming_an_active_endpoint_is_refused(endpoint, integrations_admin):
    with pytest.raises(services.ValidationError) as exc_info:
        services.resume_endpoint(endpoint=endpoint, actor=integrations_admin)

    assert exc_info.value.code == "not_paused"


def test_deleting_an_endpoint_takes_its_deliveries_with_it(endpoint, admin_client):
    IncidentFactory()

    response = admin_client.post(
        reverse("admin:integrations_webhookendpoint_delete", args=[endpoint.pk]),
        {"post": "yes"},
    )

    assert response.status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()
