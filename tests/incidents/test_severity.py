"""The severity advisor: criteria as policy data suggest the priority."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from incidents import services
from incidents.models import Policy, SeverityCriterion, TimelineEvent
from tests.assertions import error_codes
from tests.factories import CustomerFactory, IncidentFactory


def _criterion(policy_name, text):
    return SeverityCriterion.objects.get(policy__name=policy_name, text=text)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("policy", "ticked", "suggested"),
    [
        ("Automation agency", ["Business impact over $1,000 an hour"], "P1"),
        ("Automation agency", ["Error rates over 5% above normal"], "P2"),
        (
            "Automation agency",
            ["Documentation update", "Users cannot get access"],
            "P2",
        ),
        ("Automation agency", ["Reporting request"], "P4"),
        ("Fleet SaaS", ["Several customers cannot use the app"], "P1"),
        ("Fleet SaaS", ["A single enterprise customer cannot use the app"], "P2"),
        ("Fleet SaaS", ["A workaround is available"], "P3"),
        ("Fleet SaaS", ["Cosmetic issue", "A workaround is available"], "P3"),
        ("Carrier playbook", ["Widespread outage: more than 10 customers"], "P1"),
        ("Carrier playbook", ["Customer stuck for more than 72 hours"], "P2"),
    ],
)
def test_each_policys_criteria_suggest_their_priority(agent, policy, ticked, suggested):
    customer = CustomerFactory(policy=Policy.objects.get(name=policy))
    criteria = [_criterion(policy, text) for text in ticked]

    incident = IncidentFactory(
        customer=customer, priority=suggested, severity_criteria=criteria
    )

    opened = incident.timeline_events.get(kind=TimelineEvent.Kind.OPENED)
    assert opened.details["suggested"] == suggested
    assert set(incident.severity_criteria.all()) == set(criteria)


@pytest.mark.django_db
def test_another_priority_than_suggested_needs_a_reason(agent):
    data_loss = _criterion("Carrier playbook", "Security breach or data leak")

    with pytest.raises(ValidationError) as exc_info:
        IncidentFactory(priority="P3", severity_criteria=[data_loss])

    assert error_codes(exc_info.value) == {"priority_unexplained"}
    assert "P1 · Critical" in str(exc_info.value)


@pytest.mark.django_db
def test_the_reason_for_another_priority_goes_on_the_timeline(agent):
    vip = _criterion("Carrier playbook", "VIP or influencer customer")

    incident = IncidentFactory(
        priority="P3", severity_criteria=[vip], priority_reason="Cosmetic only."
    )

    opened = incident.timeline_events.get(kind=TimelineEvent.Kind.OPENED)
    assert opened.details["suggested"] == "P2"
    assert opened.details["reason"] == "Cosmetic only."


@pytest.mark.django_db
def test_criteria_of_another_policy_are_refused(agent):
    fleet_only = _criterion("Fleet SaaS", "Production system down")

    with pytest.raises(ValidationError) as exc_info:
        IncidentFactory(priority="P1", severity_criteria=[fleet_only])

    assert error_codes(exc_info.value) == {"criteria_of_another_policy"}


@pytest.mark.django_db
def test_editing_re_checks_the_suggestion(agent):
    outage = _criterion("Carrier playbook", "Widespread outage: more than 10 customers")
    incident = IncidentFactory(priority="P1", severity_criteria=[outage])

    with pytest.raises(ValidationError) as exc_info:
        services.edit_incident_details(
            incident=incident,
            actor=agent,
            expected_version=incident.version,
            changes={"priority": "P4"},
        )

    assert error_codes(exc_info.value) == {"priority_unexplained"}


@pytest.mark.django_db
def test_the_form_shows_the_customers_policy_criteria(agent_client):
    fleet_customer = CustomerFactory(policy=Policy.objects.get(name="Fleet SaaS"))
    incident = IncidentFactory(customer=fleet_customer)

    page = agent_client.get(reverse("incidents:edit", args=[incident.pk]))

    html = page.content.decode()
    assert "Production system down" in html
    assert 'data-priority="P1"' in html
    assert "Widespread outage" not in html


@pytest.mark.django_db
def test_the_form_refuses_an_unexplained_priority_and_keeps_the_input(agent_client):
    outage = _criterion("Carrier playbook", "Widespread outage: more than 10 customers")
    customer = CustomerFactory()
    data = {
        "title": "Lots of customers offline",
        "priority": "P3",
        "category": "1",
        "customer": customer.account_id,
        "service_status": "no_service",
        "customer_contact_count": "0",
        "sentiment": "unknown",
        "what_happened": "Many customers report no service.",
        "severity_criteria": [outage.pk],
    }
    from incidents.models import Category

    data["category"] = Category.objects.first().pk

    response = agent_client.post(reverse("incidents:create"), data)

    assert response.status_code == 200
    html = response.content.decode()
    assert "The ticked criteria suggest P1 · Critical" in html
    assert "Lots of customers offline" in html


@pytest.mark.django_db
def test_a_default_policy_tick_with_a_fleet_customer_is_refused_by_name_and_kept(
    agent_client,
):
    from incidents.models import Category, Policy

    vip = _criterion("Carrier playbook", "VIP or influencer customer")
    fleet_customer = CustomerFactory(policy=Policy.objects.get(name="Fleet SaaS"))
    data = {
        "title": "Dashboard map empty",
        "priority": "P2",
        "category": Category.objects.first().pk,
        "customer": fleet_customer.account_id,
        "service_status": "degraded",
        "customer_contact_count": "0",
        "sentiment": "unknown",
        "what_happened": "Vehicles do not show on the map.",
        "severity_criteria": [vip.pk],
    }

    response = agent_client.post(reverse("incidents:create"), data)

    html = response.content.decode()
    assert response.status_code == 200
    assert "is not one of the available choices" not in html
    assert "Fleet SaaS" in html and "tick its" in html
    # The carrier's category is refused in the same answer, not the next one.
    assert "“eSIM” is not a category of the “Fleet SaaS” policy" in html
    assert f'value="{vip.pk}"' in html and "checked" in html
