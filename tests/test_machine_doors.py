"""The doors machines use answer JSON, always, and drop nothing silently."""

import json
import smtplib
import socket

import pytest
from django.urls import reverse

from comms.models import InboundMail, MonitoringIntegration, SignalReceipt
from incidents.models import Category, Signal
from portal.management.commands.receive_mail import receiver
from tests.factories import monitoring_token

SECRET = "hook-secret"
SURROGATE = "\ud800"
BAD_SIGNALS = {
    "surrogate in the title": ({"title": f"x{SURROGATE}"}, "title"),
    "surrogate in the description": ({"description": SURROGATE}, "description"),
    "surrogate in the dedup key": ({"dedup_key": SURROGATE}, "dedup_key"),
    "NUL in a customer": ({"customers": ["acme\x00"]}, "customers[0]"),
    "surrogate in a customer": ({"customers": [SURROGATE]}, "customers[0]"),
}


def signal(**overrides):
    return {
        "signal": "SIG-002",
        "dedup_key": "tower-17",
        "description": "Data sessions drop near tower 17.",
        "customers": [],
        **overrides,
    }


def post_raw(client, url, body: bytes | str, headers):
    return client.generic(
        "POST", url, body, content_type="application/json", headers=headers
    )


def encoded(payload) -> bytes:
    # json.dumps escapes a lone surrogate as \ud800, as a client would send it.
    return json.dumps(payload).encode()


@pytest.fixture
def token(db):
    Signal.objects.filter(code="SIG-002").update(
        priority="P2", category=Category.objects.get(slug="network")
    )
    row, token = monitoring_token()
    MonitoringIntegration.objects.filter(pk=row.pk).update(rate_limit_per_minute=1)
    return token


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "field"), BAD_SIGNALS.values(), ids=BAD_SIGNALS)
def test_the_signal_api_refuses_unstorable_text_naming_the_field(
    client, token, overrides, field
):
    response = post_raw(
        client,
        reverse("comms:signal_api"),
        encoded(signal(**overrides)),
        {"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not SignalReceipt.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("[" * 100_000, 400),
        (b"{" + b" " * 3_000_000 + b"}", 413),
        ("not json", 400),
    ],
    ids=["deep nesting", "3 MB", "not JSON"],
)
def test_the_signal_api_answers_bad_bodies_in_json(client, token, body, status):
    response = post_raw(
        client, reverse("comms:signal_api"), body, {"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]


@pytest.mark.django_db
def test_a_refused_signal_uses_no_rate_limit_slot(client, token):
    headers = {"Authorization": f"Bearer {token}"}
    refused = post_raw(client, reverse("comms:signal_api"), "[" * 50, headers)

    accepted = post_raw(client, reverse("comms:signal_api"), encoded(signal()), headers)

    assert refused.status_code == 400
    assert accepted.status_code == 202


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"TextBody": "hi\x00"}, "TextBody"),
        ({"FromName": "A\x00B"}, "FromName"),
        ({"Subject": "Re\x00"}, "Subject"),
        ({"MessageID": "<a\x00@b>"}, "MessageID"),
        ({"TextBody": SURROGATE}, "TextBody"),
        ({"Subject": SURROGATE}, "Subject"),
    ],
)
def test_the_mail_webhook_refuses_unstorable_text_naming_the_field(
    client, settings, payload, field
):
    settings.INBOUND_MAIL_SECRET = SECRET
    mail = {
        "From": "jane@example.com",
        "To": "support@example.com",
        "Subject": "Re: hello",
        "TextBody": "Thanks",
        "MessageID": "<m-1@example.com>",
        **payload,
    }

    response = post_raw(
        client,
        reverse("comms:inbound_mail_webhook"),
        encoded(mail),
        {"X-Switchboard-Secret": SECRET},
    )

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not InboundMail.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status"),
    [("[" * 100_000, 400), (b'{"a": "' + b"x" * 3_000_000 + b'"}', 413)],
    ids=["deep nesting", "3 MB"],
)
def test_the_mail_webhook_answers_bad_bodies_in_json(client, settings, body, status):
    settings.INBOUND_MAIL_SECRET = SECRET

    response = post_raw(
        client,
        reverse("comms:inbound_mail_webhook"),
        body,
        {"X-Switchboard-Secret": SECRET},
    )

    assert response.status_code == status
    assert response.json()["error"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_smtp_receiver_keeps_a_mail_with_a_nul_and_says_what_it_replaced():
    inbound = receiver("127.0.0.1", _free_port())
    inbound.start()
    raw = (
        b"From: Jane <jane@example.com>\r\nTo: support@example.com\r\n"
        b"Subject: Re: hello\r\nMessage-ID: <nul-1@example.com>\r\n\r\n"
        b"It works\x00 again.\r\n"
    )
    try:
        with smtplib.SMTP("127.0.0.1", inbound.port, timeout=10) as smtp:
            refused = smtp.sendmail("jane@example.com", ["support@example.com"], raw)
    finally:
        inbound.stop()

    mail = InboundMail.objects.get()
    assert refused == {}
    assert "\x00" not in mail.text and "It works" in mail.text
    assert "replaced" in mail.note
