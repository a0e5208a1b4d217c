"""Incidents through the API: the same rules and history as the pages."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Incident, TimelineEvent
from tests.factories import CustomerFactory, IncidentFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/incidents"


def _references(response) -> list[str]:
    return [item["reference"] for item in response.json()["items"]]


def test_list_shows_incidents_newest_first(agent_api):
    older, newer = IncidentFactory(), IncidentFactory()

    response = agent_api.get(LIST)

    assert response.status_code == 200
    assert _references(response) == [newer.reference, older.reference]
    assert response.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"priority": "P1"}, ["urgent"]),
        ({"status": "investigating"}, ["working"]),
        ({"status": "open"}, ["urgent", "working"]),
        ({"owner": -1}, ["urgent"]),
        ({"q": "printer"}, ["working"]),
    ],
)
def test_list_filters_as_the_list_page_does(agent_api, agent, query, expected):
    made = {
        "working": IncidentFactory(
            title="Printer on fire", status="investigating", owner=agent
        ),
        "urgent": IncidentFactory(title="Outage", priority="P1"),
    }

    response = agent_api.get(LIST, query)

    assert _references(response) == [made[name].reference for name in expected]


def test_list_finds_an_incident_by_its_reference(agent_api):
    wanted = IncidentFactory()
    IncidentFactory()

    response = agent_api.get(LIST, {"q": wanted.reference})

    assert _references(response) == [wanted.reference]


@pytest.mark.parametrize(
    "query",
    [{"status": "sleeping"}, {"owner": "me"}, {"limit": 0}, {"limit": 201}],
)
def test_a_bad_filter_is_a_bad_request(agent_api, query):
    response = agent_api.get(LIST, query)

    assert response.status_code == 400
    assert response.json()["errors"]


def test_a_filter_the_form_refuses_is_named(agent_api):
    response = agent_api.get(LIST, {"tag": "no_such_tag"})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"tag"}


def test_pages_follow_each_other_by_cursor(agent_api):
    made = [IncidentFactory() for _ in range(5)]

    pages, cursor = [], None
    for _ in range(3):
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = agent_api.get(LIST, query)
        pages.append(_references(response))
        cursor = response.json()["next_cursor"]

    assert pages == [
        [made[4].reference, made[3].reference],
        [made[2].reference, made[1].reference],
        [made[0].reference],
    ]
    assert cursor is None


@pytest.mark.parametrize("cursor", ["garbage", "MTIz", "", "1:abc:def"])
def test_a_garbled_cursor_is_a_bad_request(agent_api, cursor):
    IncidentFactory()

    response = agent_api.get(LIST, {"cursor": cursor or "x"})

    assert response.status_code == 400
    assert response.json()["code"] == "bad_cursor"


def test_a_cursor_belongs_to_its_list(agent_api):
    incident = IncidentFactory()
    incident = IncidentFactory(status="investigating")
    timeline = agent_api.get(f"{LIST}/{incident.pk}/timeline", {"limit": 1})

    response = agent_api.get(LIST, {"cursor": timeline.json()["next_cursor"]})

    assert response.status_code == 400


def _list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST)
    assert response.status_code == 200
    return len(queries)


def test_the_list_costs_the_same_queries_however_many_rows(
    agent_api, django_assert_num_queries
):
    for _ in range(2):
        IncidentFactory(owner=UserFactory())
    agent_api.get(LIST)  # stamps the token's first use
    two_rows = _list_queries(agent_api)
    for _ in range(4):
        IncidentFactory(owner=UserFactory(), customer=CustomerFactory())

    # Token and person, staff and categories for the filters, ids, rows.
    with django_assert_num_queries(5):
        response = agent_api.get(LIST)

    assert len(response.json()["items"]) == 6
    assert two_rows == 5


def test_read_an_incident_by_reference_or_id(agent_api):
    incident = IncidentFactory(title="Port-in stuck")

    by_reference = agent_api.get(f"{LIST}/{incident.reference}")
    by_id = agent_api.get(f"{LIST}/{incident.pk}")

    assert by_reference.json() == by_id.json()
    assert by_id.json()["title"] == "Port-in stuck"
    assert by_id.json()["allowed_moves"] == ["investigating"]


@pytest.mark.parametrize("reference", ["INC-99999", "nothing", "9" * 40, "0"])
def test_an_unknown_incident_is_not_found(agent_api, reference):
    response = agent_api.get(f"{LIST}/{reference}")

    assert response.status_code == 404


def _opening(who, **overrides) -> dict:
    return {
        "title": "Port-in stuck",
        "priority": "P3",
        "category": "port_in",
        "customer": who.account_id,
        "what_happened": "The number has not moved since Monday.",
        **overrides,
    }


def test_open_an_incident_as_the_form_does(agent_api, agent):
    customer = CustomerFactory()

    response = agent_api.send(
        "POST",
        LIST,
        _opening(
            customer,
            extra_tags=["vip_watch"],
            immediate_actions=[{"who": "Carrier team", "what": "Re-push the port"}],
        ),
    )

    assert response.status_code == 201
    incident = Incident.objects.get()
    assert response.json()["reference"] == incident.reference
    assert incident.customer == customer and incident.created_by == agent
    assert "vip_watch" in incident.tags
    assert incident.action_items.get().who == "Carrier team"
    assert incident.timeline_events.get().kind == TimelineEvent.Kind.OPENED


def test_opening_is_refused_with_the_services_field_errors(agent_api):
    payload = _opening(CustomerFactory(), customer=None, is_systemic=False)

    response = agent_api.send("POST", LIST, payload)

    assert response.status_code == 422
    assert response.json()["code"] == "customer_required"
    assert set(response.json()["errors"]) == {"customer"}
    assert not Incident.objects.exists()


def test_opening_is_refused_with_the_forms_field_errors(agent_api):
    payload = _opening(CustomerFactory(), customer="nobody@example.com")

    response = agent_api.send("POST", LIST, payload)

    assert response.status_code == 422
    assert "No customer has" in response.json()["errors"]["customer"][0]


def test_opening_needs_the_permission_the_page_needs(api_client, user_without_role):
    from tests.api.conftest import issue

    client = api_client(issue(user_without_role))

    response = client.send("POST", LIST, _opening(CustomerFactory()))

    assert response.status_code == 403
    assert not Incident.objects.exists()


def test_edit_changes_only_the_fields_sent(agent_api):
    incident = IncidentFactory(title="Old title", priority="P3")

    response = agent_api.send(
        "PATCH",
        f"{LIST}/{incident.reference}",
        {"title": "New title", "version": incident.version},
    )

    assert response.status_code == 200, response.json()
    incident.refresh_from_db()
    assert (incident.title, incident.priority) == ("New title", "P3")
    assert incident.version == 2
    event = incident.timeline_events.latest("id")
    assert event.kind == "edited"
    assert set(event.details["changes"]) == {"title"}


def test_edit_with_a_stale_version_is_a_conflict(agent_api):
    incident = IncidentFactory(status="investigating")

    response = agent_api.send(
        "PATCH", f"{LIST}/{incident.pk}", {"title": "Mine", "version": 1}
    )

    assert response.status_code == 409
    assert response.json()["code"] == "stale"
    incident.refresh_from_db()
    assert incident.title != "Mine"


def test_edit_refuses_a_field_it_does_not_know(agent_api):
    incident = IncidentFactory()

    response = agent_api.send(
        "PATCH", f"{LIST}/{incident.pk}", {"status": "closed", "version": 1}
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"status"}


def test_move_status_through_the_status_machine(agent_api):
    incident = IncidentFactory()

    response = agent_api.send(
        "POST",
        f"{LIST}/{incident.pk}/status",
        {"to": "investigating", "version": incident.version, "note": "On it."},
    )

    assert response.status_code == 200
    assert response.json()["status"] == "investigating"
    assert incident.timeline_events.latest("id").details["note"] == "On it."


def test_a_move_the_status_machine_refuses_is_unprocessable(agent_api):
    incident = IncidentFactory()

    response = agent_api.send(
        "POST", f"{LIST}/{incident.pk}/status", {"to": "closed", "version": 1}
    )

    assert response.status_code == 422
    assert response.json()["code"] == "transition_refused"


def test_timeline_lists_the_history_newest_first(agent_api):
    incident = IncidentFactory(status="investigating")

    response = agent_api.get(f"{LIST}/{incident.reference}/timeline")

    kinds = [item["kind"] for item in response.json()["items"]]
    assert kinds == ["status_changed", "opened"]
