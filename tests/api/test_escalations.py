"""Escalations and credits through the API: the forms' and services' rules."""

import pytest

from escalations.models import CreditRequest, Escalation, PreEscalationCheck
from tests.factories import (
    IncidentFactory,
    escalation_note,
    request_test_credit,
    request_test_escalation,
)

pytestmark = pytest.mark.django_db


def _url(incident, what: str) -> str:
    return f"/api/v1/incidents/{incident.reference}/{what}"


def _escalation(incident, **overrides) -> dict:
    checks = PreEscalationCheck.objects.filter(policy=incident.policy)
    note = escalation_note()
    return {
        "path": "l2",
        "tiers": ["l2"],
        "note": note,
        "checks": {str(pk): True for pk in checks.values_list("pk", flat=True)},
        **overrides,
    }


def test_options_name_the_policys_tiers_checks_and_paths(agent_api):
    incident = IncidentFactory()

    response = agent_api.get(_url(incident, "escalation-options"))

    body = response.json()
    assert "l2" in [tier["key"] for tier in body["tiers"]]
    assert (
        len(body["checks"])
        == PreEscalationCheck.objects.filter(
            policy=incident.policy, is_active=True
        ).count()
    )
    assert "engineering" in [path["path"] for path in body["paths"]]


def test_escalate_to_a_tier_by_its_key(agent_api, agent, senior):
    incident = IncidentFactory()

    response = agent_api.send(
        "POST", _url(incident, "escalations"), _escalation(incident)
    )

    assert response.status_code == 201, response.json()
    (created,) = response.json()
    escalation = Escalation.objects.get()
    assert created["id"] == escalation.pk and created["to_tier"]["key"] == "l2"
    assert escalation.requested_by == agent
    assert incident.timeline_events.filter(kind="escalation_requested").exists()


def test_a_refund_over_100_waits_for_a_manager(agent_api, senior):
    incident = IncidentFactory()

    response = agent_api.send(
        "POST",
        _url(incident, "escalations"),
        _escalation(incident, refund_amount="100.01"),
    )

    assert response.json()[0]["status"] == "requested"
    assert response.json()[0]["needs_approval"] is True


def test_a_missing_note_field_is_named_where_it_was_sent(agent_api, senior):
    incident = IncidentFactory()
    payload = _escalation(incident)
    payload["note"]["summary"] = " "

    response = agent_api.send("POST", _url(incident, "escalations"), payload)

    assert response.status_code == 422
    assert "note.summary" in response.json()["errors"]
    assert not Escalation.objects.exists()


def test_an_unexplained_check_is_refused(agent_api, senior):
    incident = IncidentFactory()

    response = agent_api.send(
        "POST", _url(incident, "escalations"), _escalation(incident, checks={})
    )

    assert response.status_code == 422
    assert response.json()["code"] == "check_unexplained"


def test_an_unknown_path_field_is_refused(agent_api, senior):
    incident = IncidentFactory()

    response = agent_api.send(
        "POST",
        _url(incident, "escalations"),
        _escalation(incident, path_details={"colour": "red"}),
    )

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"path_details.colour"}


def test_the_list_shows_the_incidents_escalations(agent_api, agent, senior):
    incident = IncidentFactory()
    (escalation,) = request_test_escalation(incident, agent)

    response = agent_api.get(_url(incident, "escalations"))

    assert [e["id"] for e in response.json()["items"]] == [escalation.pk]


def test_ask_for_a_credit(agent_api, agent):
    incident = IncidentFactory()

    response = agent_api.send(
        "POST",
        _url(incident, "credits"),
        {"kind": "refund", "amount": "250.00", "reason": "Charged twice."},
    )

    assert response.status_code == 201, response.json()
    credit = CreditRequest.objects.get()
    assert response.json()["status"] == "requested"
    assert (credit.amount, credit.requested_by) == (250, agent)
    assert credit.customer == incident.customer


@pytest.mark.parametrize(
    ("amount", "field"), [("1_000", "amount"), ("12.345", "amount"), ("-5", "amount")]
)
def test_an_amount_is_read_as_everywhere_else(agent_api, amount, field):
    incident = IncidentFactory()

    response = agent_api.send(
        "POST",
        _url(incident, "credits"),
        {"kind": "refund", "amount": amount, "reason": "Charged twice."},
    )

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {field}


def test_a_plan_extension_needs_its_days(agent_api):
    incident = IncidentFactory()

    response = agent_api.send(
        "POST",
        _url(incident, "credits"),
        {"kind": "plan_extension", "amount": "10.00", "reason": "Down a week."},
    )

    assert response.status_code == 422
    assert response.json()["code"] == "days_required"


def test_the_credit_list_shows_the_incidents_credits(agent_api, agent):
    incident = IncidentFactory()
    credit = request_test_credit(incident, agent)

    response = agent_api.get(_url(incident, "credits"))

    assert [c["id"] for c in response.json()["items"]] == [credit.pk]
    assert response.json()["items"][0]["amount"] == "250.00"
