"""Categories belong to a policy: a fleet dashboard bug is not a "Network" issue.

Seed 004's quick reference sorts fleet issues by type (sign-in, GPS, OBD2,
sync, crash, performance, feature request, security, billing dispute).
"""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from incidents import selectors, services
from incidents.models import Category, Incident, Policy
from tests.assertions import error_codes
from tests.factories import CustomerFactory, IncidentFactory, monitoring_token
from tests.incidents.test_signal_api import land_signal, signal


def _fleet():
    return Policy.objects.get(name="Fleet SaaS")


def _slugs(policy):
    return set(selectors.categories_offered(policy).values_list("slug", flat=True))


def _new_incident(customer, category):
    return {
        "title": "Dashboard map empty",
        "priority": "P3",
        "category": category.pk,
        "customer": customer.account_id,
        "service_status": "degraded",
        "customer_contact_count": "0",
        "sentiment": "unknown",
        "what_happened": "Vehicles do not show on the map.",
    }


@pytest.mark.django_db
def test_the_fleet_policy_offers_the_issue_types_of_its_quick_reference():
    carrier = Policy.objects.get(is_default=True)

    assert _slugs(_fleet()) == {
        "sign_in",
        "gps_trips",
        "obd2",
        "sync",
        "app_crash",
        "performance",
        "feature_request",
        "security",
        "billing_dispute",
    }
    assert {"esim", "port_in", "network", "billing"} <= _slugs(carrier)
    assert not _slugs(carrier) & _slugs(_fleet())


@pytest.mark.django_db
def test_an_agent_filing_a_fleet_bug_under_esim_is_told_the_fleet_categories(
    agent_client,
):
    fleet_customer = CustomerFactory(policy=_fleet())
    esim = Category.objects.get(slug="esim")

    response = agent_client.post(
        reverse("incidents:create"), _new_incident(fleet_customer, esim)
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "“eSIM” is not a category of the “Fleet SaaS” policy" in html
    assert "Sync" in html and "OBD2 device" in html
    assert not Incident.objects.exists()
    # Drawn again for the fleet customer, the fleet's own categories lead.
    fleet_group = html.split('label="Fleet SaaS policy"')[1].split("</optgroup>")[0]
    assert ">Sync<" in fleet_group and ">eSIM<" not in fleet_group


@pytest.mark.django_db
def test_the_same_form_with_a_fleet_category_opens_the_incident(agent_client):
    fleet_customer = CustomerFactory(policy=_fleet())
    sync = Category.objects.get(slug="sync")

    response = agent_client.post(
        reverse("incidents:create"), _new_incident(fleet_customer, sync)
    )

    assert response.status_code == 302
    assert Incident.objects.get().category == sync


@pytest.mark.django_db
def test_moving_an_incident_to_a_fleet_customer_needs_a_fleet_category(agent):
    incident = IncidentFactory()
    assert incident.category.slug == "esim"

    with pytest.raises(ValidationError) as exc_info:
        services.edit_incident_details(
            incident=incident,
            actor=agent,
            expected_version=incident.version,
            changes={"customer": CustomerFactory(policy=_fleet())},
        )

    assert error_codes(exc_info.value) == {"category_of_another_policy"}


@pytest.mark.django_db
def test_an_incident_filed_before_its_policy_had_categories_keeps_its_own(agent):
    incident = IncidentFactory(customer=CustomerFactory(policy=_fleet()))
    # As if filed before the fleet's categories shipped.
    Incident.objects.filter(pk=incident.pk).update(
        category=Category.objects.get(slug="network")
    )
    incident.refresh_from_db()

    edited = services.edit_incident_details(
        incident=incident,
        actor=agent,
        expected_version=incident.version,
        changes={"title": "Trip logs late for every truck"},
    )

    assert edited.title == "Trip logs late for every truck"
    assert edited.category.slug == "network"


@pytest.mark.django_db
def test_a_policy_an_admin_gives_categories_offers_only_those(client, admin_user):
    gold = Policy.objects.create(
        name="Gold", calendar=Policy.objects.get(is_default=True).calendar
    )
    assert "esim" in _slugs(gold)
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:incidents_category_add"),
        {
            "name": "Concierge",
            "slug": "concierge",
            "position": "0",
            "is_active": "on",
            "policies": [gold.pk],
        },
    )

    assert response.status_code == 302
    assert _slugs(gold) == {"concierge"}
    assert "concierge" not in _slugs(Policy.objects.get(is_default=True))


@pytest.mark.django_db
def test_a_signal_for_a_fleet_customer_naming_a_carrier_category_still_opens(client):
    _, token = monitoring_token()
    fleet_customer = CustomerFactory(policy=_fleet())

    land_signal(
        client,
        token,
        signal(
            signal="SIG-005",
            category="network",
            customers=[fleet_customer.account_id],
        ),
    )

    incident = Incident.objects.get()
    assert incident.policy == _fleet()
    # The alert is not lost; the fleet's first category stands in.
    assert incident.category == selectors.categories_offered(_fleet()).first()
