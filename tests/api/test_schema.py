"""The OpenAPI schema: served at a stable URL, public, and true to the
answers (every test's API answers are checked against it: see conftest)."""

import pytest
from django.test import Client

from tests.api.conftest import SCHEMA_URL, assert_matches_schema
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


def test_the_schema_is_served_without_a_token():
    response = Client().get(SCHEMA_URL)

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Switchboard API"
    assert schema["components"]["securitySchemes"]["TokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }


def test_the_schema_lists_every_resource():
    paths = Client().get(SCHEMA_URL).json()["paths"]

    assert {
        "/api/v1/incidents",
        "/api/v1/incidents/{reference}",
        "/api/v1/incidents/{reference}/status",
        "/api/v1/incidents/{reference}/timeline",
        "/api/v1/incidents/{reference}/messages",
        "/api/v1/incidents/{reference}/escalations",
        "/api/v1/incidents/{reference}/escalation-options",
        "/api/v1/incidents/{reference}/credits",
        "/api/v1/messages/{message_id}/approve",
        "/api/v1/customers",
        "/api/v1/customers/{customer_id}",
    } <= set(paths)


def test_no_docs_page_loads_scripts_from_elsewhere():
    response = Client().get("/api/v1/docs")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_the_check_catches_an_answer_the_schema_does_not_allow(agent_api):
    incident = IncidentFactory()
    response = agent_api.get(f"/api/v1/incidents/{incident.pk}")
    response.content = response.content.replace(b'"version": 1', b'"version": "1"')

    with pytest.raises(AssertionError):
        assert_matches_schema(response)
