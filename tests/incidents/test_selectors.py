"""Customer search and the list's search, as the pages use them."""

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


@pytest.mark.django_db
def test_customers_matching_finds_a_surname_inside_the_name():
    becker = CustomerFactory(name="Tom Becker", account_id="ACC-1")
    CustomerFactory(name="Ana Ortiz", account_id="ACC-2")

    assert list(selectors.customers_matching("becker")) == [becker]


@pytest.mark.django_db
def test_customers_matching_puts_exact_matches_first(django_assert_num_queries):
    prefix = CustomerFactory(name="Lee Anders", account_id="ACC-1")
    inside = CustomerFactory(name="Ann Lee", account_id="ACC-2")
    exact = CustomerFactory(name="Lee", account_id="ACC-3")

    with django_assert_num_queries(1):
        found = list(selectors.customers_matching("lee"))

    assert found == [exact, prefix, inside]


@pytest.mark.django_db
def test_customers_matching_a_full_email_returns_that_customer():
    wanted = CustomerFactory(email="ops@acme.example")
    CustomerFactory(email="ops@acme.example.org")

    assert list(selectors.customers_matching("OPS@acme.example"))[0] == wanted


@pytest.mark.django_db
def test_customers_named_exactly_by_account_email_or_name():
    one = CustomerFactory(name="Zed Example", account_id="ZED-1", email="z@x.example")
    two = CustomerFactory(name="Zed Example", account_id="ZED-2", email="y@x.example")

    assert selectors.customers_named_exactly("ZED-2") == [two]
    assert selectors.customers_named_exactly("Z@X.example") == [one]
    assert selectors.customers_named_exactly("zed example") == [one, two]
    assert selectors.customers_named_exactly("Zed") == []


@pytest.mark.django_db
def test_customer_search_endpoint_suggests_by_surname(agent_client):
    CustomerFactory(name="Tom Becker", account_id="ACC-1")

    response = agent_client.get(reverse("incidents:customer_search"), {"q": "Beck"})

    assert [r["account_id"] for r in response.json()["results"]] == ["ACC-1"]
