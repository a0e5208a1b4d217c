import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import selectors
from incidents.models import Customer, Incident
from tests.factories import CustomerFactory, IncidentFactory


def _one_incident_each(customers, like: Incident) -> list[int]:
    """Give every customer a copy of ``like``; return the new incident ids."""
    fields = {
        f.attname: getattr(like, f.attname)
        for f in Incident._meta.concrete_fields
        if not f.primary_key
    }
    copies = Incident.objects.bulk_create(
        Incident(**{**fields, "customer_id": c.pk, "title": "Router down"})
        for c in customers
    )
    return [incident.pk for incident in copies]


def _common_name_customers(count: int) -> list[Customer]:
    return Customer.objects.bulk_create(
        Customer(
            name=f"Ana Example {n}", email=f"ana{n}@example.com", account_id=f"ANA-{n}"
        )
        for n in range(count)
    )


@pytest.mark.django_db
def test_search_for_a_common_name_finds_every_incident():
    template = IncidentFactory(customer=CustomerFactory(name="Bo Other"))
    customers = _common_name_customers(selectors.CUSTOMER_MATCH_LIMIT + 5)
    expected = set(_one_incident_each(customers, like=template))

    found = selectors.incident_list(
        filters=selectors.IncidentFilters(search="ana"), now=timezone.now()
    )

    assert set(found.values_list("id", flat=True)) == expected


@pytest.mark.django_db
def test_list_search_for_a_common_name_counts_every_incident(agent_client):
    template = IncidentFactory(customer=CustomerFactory(name="Bo Other"))
    customers = _common_name_customers(selectors.CUSTOMER_MATCH_LIMIT + 5)
    _one_incident_each(customers, like=template)

    response = agent_client.get(reverse("incidents:list"), {"q": "Ana"})

    assert response.context["page"].paginator.count == len(customers)
    assert f"{len(customers)} incidents" in response.content.decode()
