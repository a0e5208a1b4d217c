"""Messages through the API: the composer's form, services and approval."""

import pytest

from comms.models import Message
from incidents.models import Priority
from tests.factories import IncidentFactory, message_fields, send_test_message

pytestmark = pytest.mark.django_db


def _url(incident) -> str:
    return f"/api/v1/incidents/{incident.reference}/messages"


def _update(incident, **overrides) -> dict:
    return {
        "audience": "customer",
        "channel": "email",
        "stage": "follow_up",
        "follow_up_number": 1,
        "recipients": [incident.customer.email],
        "subject": f"Update on {incident.reference}",
        "body": "We are still on it.",
        **overrides,
    }


def test_a_p1_customer_update_waits_for_a_manager(agent_api, agent):
    incident = IncidentFactory(priority=Priority.P1)

    response = agent_api.send("POST", _url(incident), _update(incident))

    assert response.status_code == 201
    assert response.json()["status"] == "awaiting_approval"
    message = Message.objects.get()
    assert message.created_by == agent
    assert incident.timeline_events.latest("id").kind == "message_submitted"


def test_a_p3_customer_update_is_queued(agent_api):
    incident = IncidentFactory(priority=Priority.P3)

    response = agent_api.send("POST", _url(incident), _update(incident))

    assert response.json()["status"] == "queued"


def test_a_draft_is_kept_as_a_draft(agent_api):
    incident = IncidentFactory(priority=Priority.P1)

    response = agent_api.send("POST", _url(incident), _update(incident, draft=True))

    assert response.json()["status"] == "draft"
    assert incident.timeline_events.latest("id").kind == "message_drafted"


def test_a_refusal_names_the_field(agent_api):
    incident = IncidentFactory()

    response = agent_api.send("POST", _url(incident), _update(incident, subject=""))

    assert response.status_code == 422
    assert response.json()["code"] == "no_subject"
    assert set(response.json()["errors"]) == {"subject"}
    assert not Message.objects.exists()


def test_the_composers_form_refuses_a_status_page_post(agent_api):
    incident = IncidentFactory()

    response = agent_api.send(
        "POST", _url(incident), _update(incident, channel="status_page")
    )

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"channel"}


def test_a_phrase_the_policy_never_says_stops_the_message_once(agent_api):
    incident = IncidentFactory(priority=Priority.P3)
    said = _update(incident, body="Sorry, there\u2019s nothing I can do.")

    stopped = agent_api.send("POST", _url(incident), said)
    sent = agent_api.send("POST", _url(incident), {**said, "say_it_anyway": True})

    assert stopped.status_code == 422
    assert stopped.json()["code"] == "phrase_to_avoid"
    assert sent.status_code == 201


def test_sending_needs_the_composers_permission(api_client, user_without_role):
    from tests.api.conftest import issue

    incident = IncidentFactory()

    response = api_client(issue(user_without_role)).send(
        "POST", _url(incident), _update(incident)
    )

    assert response.status_code == 403


def test_the_list_shows_the_incidents_messages_newest_first(agent_api, agent):
    incident = IncidentFactory(priority=Priority.P3)
    first = send_test_message(incident, agent)
    second = send_test_message(incident, agent, body="Second.", follow_up_number=2)

    response = agent_api.get(_url(incident))

    assert [m["id"] for m in response.json()["items"]] == [second.pk, first.pk]


def test_an_agent_cannot_approve(agent_api, other_agent):
    incident = IncidentFactory(priority=Priority.P1)
    message = send_test_message(incident, other_agent)

    response = agent_api.send("POST", f"/api/v1/messages/{message.pk}/approve", {})

    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == "awaiting_approval"


def test_a_manager_approves_someone_elses_message(manager_api, agent):
    incident = IncidentFactory(priority=Priority.P1)
    message = send_test_message(incident, agent)

    response = manager_api.send("POST", f"/api/v1/messages/{message.pk}/approve", {})

    assert response.status_code == 200
    assert response.json()["status"] == "queued"


def test_a_manager_cannot_approve_their_own_message(manager_api, manager):
    incident = IncidentFactory(priority=Priority.P1)
    message = send_test_message(incident, manager)

    response = manager_api.send("POST", f"/api/v1/messages/{message.pk}/approve", {})

    assert response.status_code == 422
    assert response.json()["code"] == "self_approval"


def test_the_factory_fields_are_the_apis(agent_api):
    # The composer's fields and the API's carry the same names.
    incident = IncidentFactory()
    fields = message_fields(incident)

    response = agent_api.send(
        "POST",
        _url(incident),
        {k: v for k, v in fields.items() if k not in ("party", "template_version")},
    )

    assert response.status_code == 201
