"""The doors machines use answer JSON, always, and drop nothing silently."""

import json
import smtplib
import socket

import pytest
from django.db import DataError
from django.urls import reverse

from comms import services as comms_services
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


def postmark(**overrides):
    """Return an inbound e-mail with every field Postmark posts (its docs sample)."""
    return {
        "FromName": "Jane Doe",
        "MessageStream": "inbound",
        "From": "jane@example.com",
        "FromFull": {"Email": "jane@example.com", "Name": "Jane Doe"},
        "To": '"Support" <support@example.com>',
        "ToFull": [{"Email": "support@example.com", "Name": "Support"}],
        "Cc": "",
        "CcFull": [],
        "OriginalRecipient": "support@example.com",
        "Subject": "Re: hello",
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "ReplyTo": "",
        "Date": "Fri, 1 Aug 2014 16:45:32 -04:00",
        "TextBody": "Thanks, it works.\n\n> quoted",
        "HtmlBody": "<p>Thanks, it works.</p>",
        "StrippedTextReply": "Thanks, it works.",
        "Tag": "",
        "Headers": [
            {"Name": "X-Spam-Status", "Value": "No"},
            {"Name": "References", "Value": "<a@example.com>"},
        ],
        "Attachments": [],
        **overrides,
    }


def post_mail(client, payload):
    return post_raw(
        client,
        reverse("comms:inbound_mail_webhook"),
        encoded(payload),
        {"X-Switchboard-Secret": SECRET},
    )


BAD_MAIL = {
    "a number as To": ({"To": 5}, "To"),
    "an object as TextBody": ({"TextBody": {}}, "TextBody"),
    "a list as Subject": ({"Subject": ["Re: hello"]}, "Subject"),
    "an object as From": ({"From": {"Email": "jane@example.com"}}, "From"),
    "a number as FromName": ({"FromName": 5}, "FromName"),
    "a boolean as StrippedTextReply": (
        {"StrippedTextReply": True},
        "StrippedTextReply",
    ),
    "a list as HtmlBody": ({"HtmlBody": ["<p>"]}, "HtmlBody"),
    "a number as MessageID": ({"MessageID": 17}, "MessageID"),
    "a list as Cc": ({"Cc": ["a@example.com"]}, "Cc"),
    "text as Headers": ({"Headers": "References: x"}, "Headers"),
    "an object as Headers": ({"Headers": {"References": "x"}}, "Headers"),
    "a number as a header's Name": ({"Headers": [{"Name": 5}]}, "Headers[0].Name"),
    "a header without a Name": ({"Headers": [{"Value": "x"}]}, "Headers[0].Name"),
    "a list as a header's Value": (
        {"Headers": [{"Name": "References", "Value": ["x"]}]},
        "Headers[0].Value",
    ),
    "text as a header": ({"Headers": ["References: x"]}, "Headers[0]"),
    "a number as raw headers": ({"Headers": None, "headers": 5}, "headers"),
    "a short header pair": (
        {"Headers": None, "message-headers": [["In-Reply-To"]]},
        "message-headers[0]",
    ),
    "no sender address": ({"From": None}, "From"),
}


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "field"), BAD_MAIL.values(), ids=BAD_MAIL)
def test_the_mail_webhook_refuses_a_wrong_type_naming_the_field(
    client, settings, overrides, field
):
    settings.INBOUND_MAIL_SECRET = SECRET

    response = post_mail(client, postmark(**overrides))

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert field in response.json()["fields"]
    assert not InboundMail.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"StrippedTextReply": None, "Cc": None, "HtmlBody": None, "Headers": None},
        {"Headers": [{"Name": "X-Empty", "Value": None}]},
    ],
    ids=["as sent", "nulls", "a null header value"],
)
def test_the_mail_webhook_keeps_taking_what_postmark_sends(client, settings, overrides):
    settings.INBOUND_MAIL_SECRET = SECRET

    response = post_mail(client, postmark(**overrides))

    assert response.status_code == 200
    mail = InboundMail.objects.get()
    assert mail.text.startswith("Thanks, it works.")
    assert (mail.from_name, mail.to_addresses) == ("Jane Doe", ["support@example.com"])


@pytest.mark.django_db
def test_the_mail_webhook_names_the_field_that_nests_too_deep(client, settings):
    settings.INBOUND_MAIL_SECRET = SECRET
    nested = []
    for _ in range(100):
        nested = [nested]

    response = post_mail(client, postmark(TextBody=nested))

    assert response.status_code == 400
    (path,) = response.json()["fields"]
    assert path.startswith("TextBody[0]")
    assert not InboundMail.objects.exists()


RAW_MAIL = (
    b"From: Jane <jane@example.com>\r\nTo: support@example.com\r\n"
    b"Subject: Re: hello\r\nMessage-ID: <smtp-1@example.com>\r\n\r\nIt works.\r\n"
)


def _smtp_answer_to_data(raw: bytes) -> str:
    """Send ``raw`` to a receiver on loopback; return its answer to DATA."""
    inbound = receiver("127.0.0.1", _free_port())
    inbound.start()
    try:
        with smtplib.SMTP("127.0.0.1", inbound.port, timeout=10) as smtp:
            smtp.ehlo()
            smtp.mail("jane@example.com")
            smtp.rcpt("support@example.com")
            code, message = smtp.data(raw)
    finally:
        inbound.stop()
    return f"{code} {message.decode()}"


def test_the_smtp_receiver_refuses_an_unreadable_mail_without_internals():
    # The standard library's address parser fails on a lone quote with an
    # IndexError; the receiver answers that it cannot read the mail, not why.
    raw = b'From: jane@example.com\r\nTo: "\r\nSubject: hi\r\n\r\nHello.\r\n'

    answer = _smtp_answer_to_data(raw)

    assert answer == "550 Unreadable message"
    assert "index" not in answer.lower()


def test_the_smtp_receiver_asks_to_retry_when_storing_fails_without_internals(
    monkeypatch, caplog
):
    internals = (
        'value too long for type character varying(300)\nINSERT INTO "comms_'
        'inboundmail" ("source", "message_id") VALUES (%s, %s)'
    )

    def storing_fails(**kwargs):
        raise DataError(internals)

    monkeypatch.setattr(comms_services, "receive_email", storing_fails)

    answer = _smtp_answer_to_data(RAW_MAIL)

    assert answer == "451 4.3.0 Temporary failure; please try again later"
    assert not any(word in answer for word in ("INSERT", "varying", "DataError"))
    # The cause is logged here, for us, with its traceback.
    (logged,) = [r for r in caplog.records if r.exc_info]
    assert "INSERT INTO" in str(logged.exc_info[1])
