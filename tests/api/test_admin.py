"""Tokens in the admin: issued with the text shown once, revoked, last use."""

import re

import pytest
from django.urls import reverse

from api.models import ApiToken
from tests.api.conftest import issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_an_admin_issues_a_token_and_sees_it_once(
    admin_client, admin_user, agent, api_client
):
    response = admin_client.post(
        reverse("admin:api_apitoken_add"),
        {"user": agent.pk, "name": "Dashboard", "scope": "read"},
        follow=True,
    )

    shown = re.findall(r"sbt_[A-Za-z0-9_-]{40,}", response.content.decode())
    token = ApiToken.objects.get()
    assert len(set(shown)) == 1
    assert (token.user, token.created_by, token.scope) == (agent, admin_user, "read")
    assert (
        shown[0]
        not in admin_client.get(
            reverse("admin:api_apitoken_change", args=[token.pk])
        ).content.decode()
    )
    assert api_client(shown[0]).get("/api/v1/incidents").status_code == 200


def test_a_token_for_an_inactive_account_is_refused_on_the_form(admin_client, agent):
    agent.is_active = False
    agent.save()

    response = admin_client.post(
        reverse("admin:api_apitoken_add"),
        {"user": agent.pk, "name": "Dashboard", "scope": "read"},
    )

    assert response.status_code == 200
    assert "inactive" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_stops_the_token_at_once(admin_client, admin_user, agent, api_client):
    text = issue(agent)
    token = ApiToken.objects.get()

    admin_client.post(
        reverse("admin:api_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )

    token.refresh_from_db()
    assert token.revoked_by == admin_user and token.revoked_at is not None
    assert api_client(text).get("/api/v1/incidents").status_code == 401


def test_the_list_shows_prefix_and_last_use(admin_client, agent, api_client):
    text = issue(agent, name="Nightly export")
    api_client(text).get("/api/v1/incidents")

    page = admin_client.get(reverse("admin:api_apitoken_changelist")).content.decode()

    assert f"sbt_{text[4:12]}…" in page
    assert "Nightly export" in page
    assert text not in page


def test_people_outside_the_admin_group_cannot_manage_tokens(client, manager):
    client.force_login(manager)

    response = client.get(reverse("admin:api_apitoken_changelist"))

    assert response.status_code == 403
