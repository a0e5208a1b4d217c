"""Clients that sign requests with a token and check every answer against
the OpenAPI schema the API serves."""

import json
import re

import pytest
from django.test import Client
from jsonschema import Draft202012Validator

from api import services
from tests.factories import UserFactory

SCHEMA_URL = "/api/v1/openapi.json"
PROBLEM_TYPE = "application/problem+json"
_schema: dict = {}


def served_schema() -> dict:
    """Return the OpenAPI document as served (fetched once per test run)."""
    if not _schema:
        response = Client().get(SCHEMA_URL)
        assert response.status_code == 200, response.content
        _schema.update(response.json())
    return _schema


def _operation(method: str, path: str) -> dict | None:
    for template, operations in served_schema()["paths"].items():
        pattern = "".join(
            "[^/]+" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", template)
        )
        if re.fullmatch(pattern, path):
            return operations.get(method.lower())
    return None


def assert_matches_schema(response) -> None:
    """Assert an API answer is what the served schema says it answers.

    Every answer of an operation must be a status the operation lists, with
    a body its schema (component references resolved) accepts; errors are
    problems. Unknown paths and wrong methods answer plain problems.
    """
    request = response.wsgi_request
    content_type = response.get("Content-Type", "")
    if response.status_code >= 400:
        assert content_type == PROBLEM_TYPE, (response.status_code, content_type)
    operation = _operation(request.method, request.path)
    if operation is None:
        assert response.status_code in (404, 405), request.path
        return
    declared = operation["responses"].get(str(response.status_code))
    assert declared is not None, (request.method, request.path, response.status_code)
    media_type = content_type.split(";")[0]
    assert media_type in declared["content"], (request.path, content_type)
    body_schema = declared["content"][media_type]["schema"]
    validator = Draft202012Validator(
        {**body_schema, "components": served_schema()["components"]}
    )
    errors = sorted(validator.iter_errors(json.loads(response.content)), key=str)
    assert not errors, [e.message for e in errors[:5]]


class ApiClient(Client):
    """A test client whose every API answer is checked against the schema."""

    def request(self, **request):
        response = super().request(**request)
        if response.wsgi_request.path.startswith("/api/v1/") and (
            response.wsgi_request.path != SCHEMA_URL
        ):
            assert_matches_schema(response)
        return response

    def send(self, method: str, path: str, body=None, **extra):
        """Send ``body`` as JSON (a str is sent as it is)."""
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.generic(method, path, data, "application/json", **extra)


def issue(user, scope="write", **fields) -> str:
    """Issue a token for ``user`` through the service; return its text."""
    _token, text = services.issue_api_token(
        user=user,
        name=fields.pop("name", "Test script"),
        scope=scope,
        actor=None,
        **fields,
    )
    return text


@pytest.fixture
def api_client():
    """Return a function making a client that sends ``token`` (or none)."""

    def make(token: str | None = None) -> ApiClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return ApiClient(headers=headers, raise_request_exception=False)

    return make


@pytest.fixture
def agent_api(api_client, agent):
    return api_client(issue(agent))


@pytest.fixture
def other_agent_api(api_client, other_agent):
    return api_client(issue(other_agent))


@pytest.fixture
def manager_api(api_client, manager):
    return api_client(issue(manager))


@pytest.fixture
def senior(db):
    """A senior agent: the carrier L2 tier's members are senior agents."""
    return UserFactory(username="senior-a", role="Senior agent")


@pytest.fixture
def admin_api(api_client, admin_user):
    return api_client(issue(admin_user))
