"""Tokens: who a request acts as, what it may do, how often."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api import services
from api.models import ApiToken
from tests.api.conftest import issue
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/incidents"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer sbt_",
        "Bearer sbt_not-a-token-at-all-0000000000000000000000",
        "Bearer \x00",
        "Basic YWdlbnQ6cHc=",
        "Bearer " + "x" * 5000,
    ],
)
def test_a_request_without_a_live_token_is_refused_as_unauthorized(
    api_client, agent, header
):
    client = api_client()
    if header:
        client.defaults["HTTP_AUTHORIZATION"] = header

    response = client.get(LIST)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["title"] == "Unauthorized"


def test_a_token_with_a_wrong_secret_but_a_real_prefix_is_refused(api_client, agent):
    text = issue(agent)

    response = api_client(text[:-4] + "AAAA").get(LIST)

    assert response.status_code == 401


def test_a_revoked_token_is_refused(api_client, agent, admin_user):
    text = issue(agent)
    token = ApiToken.objects.get()
    services.revoke_api_token(token=token, actor=admin_user)

    response = api_client(text).get(LIST)

    assert response.status_code == 401


def test_an_expired_token_is_refused(api_client, agent, time_machine):
    text = issue(agent, expires_at=timezone.now() + dt.timedelta(hours=1))
    time_machine.move_to(timezone.now() + dt.timedelta(hours=2))

    response = api_client(text).get(LIST)

    assert response.status_code == 401


def test_a_deactivated_persons_token_is_refused(api_client, agent):
    text = issue(agent)
    agent.is_active = False
    agent.save()

    response = api_client(text).get(LIST)

    assert response.status_code == 401


def test_a_signed_in_session_is_not_an_api_credential(client, agent):
    client.force_login(agent)

    response = client.get(LIST)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_a_read_token_cannot_change_anything(api_client, agent):
    incident = IncidentFactory()
    client = api_client(issue(agent, scope="read"))

    response = client.send(
        "POST",
        f"/api/v1/incidents/{incident.pk}/status",
        {"to": "investigating", "version": incident.version},
    )

    assert response.status_code == 403
    assert response.json()["code"] == "read_only_token"
    incident.refresh_from_db()
    assert incident.status == "new"


def test_a_read_token_reads(api_client, agent):
    IncidentFactory()

    response = api_client(issue(agent, scope="read")).get(LIST)

    assert response.status_code == 200


def test_the_token_acts_as_its_person(agent_api, agent):
    incident = IncidentFactory()

    agent_api.send(
        "POST",
        f"/api/v1/incidents/{incident.reference}/status",
        {"to": "investigating", "version": incident.version},
    )

    event = incident.timeline_events.latest("id")
    assert event.kind == "status_changed"
    assert event.actor == agent


def test_last_use_is_stamped_at_most_once_a_minute(api_client, agent, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 18, 12, 0, tzinfo=dt.UTC), tick=False)
    client = api_client(issue(agent))

    client.get(LIST)
    first = ApiToken.objects.get().last_used_at
    time_machine.move_to(dt.datetime(2026, 11, 18, 12, 0, 30, tzinfo=dt.UTC))
    with CaptureQueriesContext(connection) as queries:
        client.get(LIST)
    time_machine.move_to(dt.datetime(2026, 11, 18, 12, 1, 5, tzinfo=dt.UTC))
    client.get(LIST)

    assert first == dt.datetime(2026, 11, 18, 12, 0, tzinfo=dt.UTC)
    assert not any(q["sql"].startswith("UPDATE") for q in queries)
    assert ApiToken.objects.get().last_used_at == dt.datetime(
        2026, 11, 18, 12, 1, 5, tzinfo=dt.UTC
    )


def test_a_token_over_its_rate_limit_waits(api_client, agent, settings, time_machine):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    time_machine.move_to(dt.datetime(2026, 11, 18, 12, 0, 15, tzinfo=dt.UTC))
    client = api_client(issue(agent))
    other = api_client(issue(agent, name="Another script"))

    answers = [client.get(LIST).status_code for _ in range(4)]
    refused = client.get(LIST)
    others = other.get(LIST)

    assert answers == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert int(refused["Retry-After"]) == 45
    assert others.status_code == 200


def test_the_rate_limit_window_turns_with_the_minute(
    api_client, agent, settings, time_machine
):
    settings.API_RATE_LIMIT_PER_MINUTE = 1
    time_machine.move_to(dt.datetime(2026, 11, 18, 12, 0, 50, tzinfo=dt.UTC))
    client = api_client(issue(agent))
    client.get(LIST)

    time_machine.move_to(dt.datetime(2026, 11, 18, 12, 1, 1, tzinfo=dt.UTC))
    response = client.get(LIST)

    assert response.status_code == 200


def test_issued_tokens_are_kept_as_a_hash(agent):
    text = issue(agent)

    token = ApiToken.objects.get()

    assert text.startswith("sbt_") and len(text) > 40
    assert token.prefix == text[4:12]
    assert text not in token.key_hash and token.key_hash == services.hash_token(text)


def test_a_token_request_needs_no_csrf_token(api_client, agent):
    incident = IncidentFactory()
    client = api_client(issue(agent))
    client.handler.enforce_csrf_checks = True

    response = client.send(
        "POST",
        f"/api/v1/incidents/{incident.pk}/status",
        {"to": "investigating", "version": incident.version},
    )

    assert response.status_code == 200
