"""The webhooks' admin pages answer hostile input without a server error.

tests/test_fuzz.py walks the admins of the apps in its OUR_APPS; this runs
its admin check on this app's pages, with one endpoint and one delivery to
change, until "integrations" is listed there.
"""

import pytest

from integrations.models import WebhookDelivery, WebhookEndpoint
from tests import test_fuzz

# The fuzz module's fixtures, used here as they are.
world = test_fuzz.world
cheap_passwords = test_fuzz.cheap_passwords
inbound_mail_configured = test_fuzz._inbound_mail_configured

PAGES = [
    (label, page)
    for label in ("integrations.WebhookDelivery", "integrations.WebhookEndpoint")
    for page in ("add", "change", "changelist")
]


@pytest.fixture
def webhooks(db):
    endpoint = WebhookEndpoint.objects.create(
        name="Fuzz", url="https://example.com/hook", events=["incident.opened"]
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint,
        event="ping",
        payload={"event": "ping"},
        status=WebhookDelivery.Status.FAILED,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("kind", test_fuzz.VALUES)
@pytest.mark.parametrize(("label", "page"), PAGES)
def test_integrations_admin_form_never_answers_a_server_error(
    label, page, kind, world, webhooks, integrations_admin, monkeypatch, caplog
):
    monkeypatch.setattr(test_fuzz, "OUR_APPS", ("integrations",))

    test_fuzz.test_admin_form_never_answers_a_server_error(
        label, page, kind, world, integrations_admin, monkeypatch, caplog
    )
