"""The navigation's counts cost nothing on most pages, and are never stale
for whoever just acted."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from comms import services
from tests.factories import IncidentFactory, send_test_message

pytestmark = pytest.mark.django_db


def test_the_approvals_badge_is_read_once_then_kept(client, manager, agent):
    send_test_message(IncidentFactory(priority="P1"), agent)
    client.force_login(manager)
    client.get(reverse("incidents:list"))

    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("incidents:list"))

    assert 'title="1 message waiting for approval"' in page.content.decode()
    assert not any("awaiting_approval" in q["sql"] for q in queries)


def test_a_decision_updates_the_badge_at_once(
    client, manager, other_manager, agent, django_capture_on_commit_callbacks
):
    message = send_test_message(IncidentFactory(priority="P1"), agent)
    client.force_login(manager)
    client.get(reverse("incidents:list"))

    with django_capture_on_commit_callbacks(execute=True):
        services.approve_message(message=message, actor=other_manager)
    page = client.get(reverse("incidents:list")).content.decode()

    assert "message waiting for approval" not in page
