"""Customer search, as the customer box's suggestions use it."""

import pytest
from django.urls import reverse

from incidents import selectors
from tests.factories import CustomerFactory


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
