"""Malformed and hostile input: every write endpoint answers a 4xx problem
(or accepts the value), never a server error or a page."""

import json

import pytest

from escalations.models import PreEscalationCheck
from incidents.models import Priority
from tests.api.conftest import issue
from tests.factories import (
    CustomerFactory,
    IncidentFactory,
    UserFactory,
    escalation_note,
    send_test_message,
)

pytestmark = pytest.mark.django_db


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture
def world(admin_user, agent):
    UserFactory(username="senior-a", role="Senior agent")  # the L2 tier's members
    incident = IncidentFactory(priority=Priority.P1)
    customer = CustomerFactory()
    checks = PreEscalationCheck.objects.filter(policy=incident.policy)
    return {
        "incident": incident,
        "customer": customer,
        "message": send_test_message(incident, agent),
        "checks": {str(pk): True for pk in checks.values_list("pk", flat=True)},
    }


# Each write endpoint with a body it accepts.
ROUTES = {
    "open incident": lambda w: (
        "POST",
        "/api/v1/incidents",
        {
            "title": "Port-in stuck",
            "priority": "P3",
            "category": "port_in",
            "customer": w["customer"].account_id,
            "what_happened": "Stuck since Monday.",
        },
    ),
    "edit incident": lambda w: (
        "PATCH",
        f"/api/v1/incidents/{w['incident'].pk}",
        {"title": "Renamed", "version": w["incident"].version},
    ),
    "move incident": lambda w: (
        "POST",
        f"/api/v1/incidents/{w['incident'].pk}/status",
        {"to": "investigating", "version": w["incident"].version, "note": "On it"},
    ),
    "compose message": lambda w: (
        "POST",
        f"/api/v1/incidents/{w['incident'].pk}/messages",
        {
            "audience": "internal",
            "channel": "note",
            "stage": "follow_up",
            "body": "Still on it.",
        },
    ),
    "approve message": lambda w: (
        "POST",
        f"/api/v1/messages/{w['message'].pk}/approve",
        {"subject": "Update", "body": "We are on it."},
    ),
    "request escalation": lambda w: (
        "POST",
        f"/api/v1/incidents/{w['incident'].pk}/escalations",
        {
            "path": "l2",
            "tiers": ["l2"],
            "note": escalation_note(),
            "checks": w["checks"],
        },
    ),
    "request credit": lambda w: (
        "POST",
        f"/api/v1/incidents/{w['incident'].pk}/credits",
        {"kind": "refund", "amount": "25.00", "reason": "Charged twice."},
    ),
    "add customer": lambda w: (
        "POST",
        "/api/v1/customers",
        {"name": "New Co", "email": "ops@new.example", "account_id": "ACC-NEW01"},
    ),
    "edit customer": lambda w: (
        "PATCH",
        f"/api/v1/customers/{w['customer'].pk}",
        {"name": "Renamed Co", "is_vip": True},
    ),
}

MALFORMED = {
    "not json": "{bad",
    "truncated": '{"title": ',
    "a list": "[]",
    "a string": '"text"',
    "null": "null",
    "invalid utf-8": b'{"title": "\xff\xfe"}',
    "too deep": json.dumps({"title": _nested(200)}),
    "nul": json.dumps({"title": "a\x00b"}),
    "surrogate": '{"title": "\\ud800"}',
}

HOSTILE = {
    "nul": "a\x00b",
    "surrogate": "\ud800",
    "long": "x" * 100_000,
    "int32 overflow": 2**31,
    "huge": 10**40,
    "negative": -1,
    "float": 1.5,
    "bool": True,
    "list": ["x"],
    "object": {"x": "y"},
    "null": None,
    "nested": _nested(40),
    "far date": "0001-01-01T00:00:00",
}


@pytest.fixture
def admin_api(api_client, admin_user):
    return api_client(issue(admin_user))


def _assert_problem(response, *statuses):
    assert response.status_code in statuses, (response.status_code, response.content)
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == response.status_code and body["title"]


@pytest.mark.parametrize("route", ROUTES)
def test_the_valid_body_is_accepted(admin_api, world, route):
    method, url, body = ROUTES[route](world)

    response = admin_api.send(method, url, body)

    assert 200 <= response.status_code < 300, response.json()


@pytest.mark.parametrize("kind", MALFORMED)
@pytest.mark.parametrize("route", ROUTES)
def test_a_malformed_body_is_a_bad_request(admin_api, world, route, kind):
    method, url, _body = ROUTES[route](world)

    response = admin_api.send(method, url, MALFORMED[kind])

    _assert_problem(response, 400)


@pytest.mark.parametrize("route", ROUTES)
def test_an_empty_body_is_refused(admin_api, world, route):
    method, url, body = ROUTES[route](world)

    response = admin_api.send(method, url, "")

    if route in ("edit customer", "approve message"):  # nothing is required
        assert response.status_code < 500
    else:
        _assert_problem(response, 400)


@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize("route", ROUTES)
def test_a_hostile_field_is_refused_or_taken_never_a_fault(
    admin_api, world, route, kind
):
    method, url, body = ROUTES[route](world)

    for field in [*body, "unknown_field"]:
        response = admin_api.send(method, url, {**body, field: HOSTILE[kind]})

        assert response.status_code < 500, (field, response.content)
        if response.status_code >= 400:
            _assert_problem(response, 400, 403, 404, 409, 413, 422)
        if field == "unknown_field":
            assert response.status_code == 400


def test_a_body_past_the_limit_is_too_large(admin_api, world):
    method, url, body = ROUTES["open incident"](world)

    response = admin_api.send(method, url, {**body, "what_happened": "x" * 1_100_000})

    _assert_problem(response, 413)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/incidents/INC-00001/nothing",
        "/api/v1/nothing",
        "/api/v1/",
        "/api/v1/messages/99999999999999999999999/approve",
        "/api/v1/customers/-1",
    ],
)
def test_an_unknown_path_is_a_problem_not_a_page(admin_api, path):
    response = admin_api.get(path)

    _assert_problem(response, 400, 404, 405)


def test_a_wrong_method_is_a_problem_with_allow(admin_api, world):
    response = admin_api.delete(f"/api/v1/incidents/{world['incident'].pk}")

    _assert_problem(response, 405)
    assert response["Allow"] == "GET, PATCH"


def test_a_fault_is_a_logged_problem(admin_api, world, monkeypatch, caplog):
    from api import shapes

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(shapes, "incident_detail", broken)

    response = admin_api.get(f"/api/v1/incidents/{world['incident'].pk}")

    _assert_problem(response, 500)
    assert "boom" not in response.content.decode()
    assert [r.levelname for r in caplog.records if "Internal" in r.getMessage()] == [
        "ERROR"
    ]


# Each list with the query parameters it reads.
LISTS = {
    "/api/v1/incidents": [
        "status",
        "priority",
        "owner",
        "category",
        "sla",
        "tag",
        "q",
        "archived",
        "limit",
        "cursor",
    ],
    "/api/v1/incidents/{pk}/timeline": ["limit", "cursor"],
    "/api/v1/incidents/{pk}/messages": ["limit", "cursor"],
    "/api/v1/incidents/{pk}/escalations": ["limit", "cursor"],
    "/api/v1/incidents/{pk}/credits": ["limit", "cursor"],
    "/api/v1/customers": ["q", "limit", "cursor"],
}
# As they arrive, percent-encoded: a NUL, an unpaired surrogate, invalid
# UTF-8, and values past every limit or type.
HOSTILE_QUERY = [
    "a%00b",
    "%ED%A0%80",
    "%FF%FE",
    "x" * 5_000,
    "9" * 40,
    "-2147483649",
    "0000-00-00",
    "",
    "%5B%5D",
]


@pytest.mark.parametrize("path", LISTS)
def test_a_hostile_query_is_refused_or_ignored_never_a_fault(admin_api, world, path):
    url = path.format(pk=world["incident"].pk)

    for name in LISTS[path]:
        for value in HOSTILE_QUERY:
            response = admin_api.generic("GET", url, QUERY_STRING=f"{name}={value}")

            assert response.status_code in (200, 400), (name, value, response.content)
            if response.status_code == 400:
                _assert_problem(response, 400)
