"""Only administrators reach the admin; everyone else is told so."""

import logging

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("is_staff", [True, False])
def test_agent_opening_the_admin_is_refused_with_a_way_back(client, is_staff):
    client.force_login(UserFactory(role="Agent", is_staff=is_staff))

    response = client.get(reverse("admin:index"))

    assert response.status_code == 403
    assert "registration/admin_refused.html" in [t.name for t in response.templates]
    page = response.content.decode()
    assert "The admin is for administrators" in page
    assert f'href="{reverse("incidents:list")}"' in page
    assert 'name="password"' not in page


def test_agent_sent_to_the_admin_login_is_refused_not_shown_a_form(client, agent):
    client.force_login(agent)

    response = client.get(reverse("admin:login"), {"next": reverse("admin:index")})

    assert response.status_code == 403
    assert 'name="password"' not in response.content.decode()


def test_anonymous_visitor_signs_in_on_the_portal_page(client):
    response = client.get(reverse("admin:index"), follow=True)

    assert response.redirect_chain[-1][0] == (
        reverse("login") + "?next=" + reverse("admin:index")
    )
    assert response.status_code == 200


def test_admin_reaches_the_admin_and_its_login_page_sends_them_in(client, admin_user):
    client.force_login(admin_user)

    index = client.get(reverse("admin:index"))
    login = client.get(reverse("admin:login"))

    assert index.status_code == 200
    assert login.status_code == 302
    assert login.url == reverse("admin:index")


def test_refusal_logs_one_line_without_a_traceback(client, agent, caplog):
    client.force_login(agent)

    with caplog.at_level(logging.INFO, logger="django.request"):
        client.get(reverse("admin:index"))

    records = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("WARNING", "Forbidden: /admin/")
    ]
    assert records[0].exc_info is None


def test_permission_denied_elsewhere_logs_one_line(client, user_without_role, caplog):
    client.force_login(user_without_role)

    with caplog.at_level(logging.INFO, logger="django.request"):
        response = client.get(reverse("incidents:create"))

    assert response.status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1
    assert records[0].exc_info is None
    assert "\n" not in logging.Formatter().format(records[0])
