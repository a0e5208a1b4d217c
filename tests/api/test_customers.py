"""Customers through the API: read by staff, added and changed by admins."""

import pytest
from django.contrib.admin.models import LogEntry

from incidents.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/customers"


def test_search_finds_customers_by_name_or_account(agent_api):
    wanted = CustomerFactory(name="Ada Lovelace", account_id="ACC-ADA01")
    CustomerFactory(name="Grace Hopper")

    by_name = agent_api.get(LIST, {"q": "lovelace"})
    by_account = agent_api.get(LIST, {"q": "ACC-ADA"})

    assert [c["id"] for c in by_name.json()["items"]] == [wanted.pk]
    assert [c["id"] for c in by_account.json()["items"]] == [wanted.pk]


def test_a_search_with_a_nul_is_a_bad_request(agent_api):
    response = agent_api.get(LIST, {"q": "a\x00b"})

    assert response.status_code == 400


def test_old_carrier_accounts_are_masked_for_agents(agent_api):
    customer = CustomerFactory(old_carrier_account="CARRIER-123456")

    response = agent_api.get(f"{LIST}/{customer.pk}")

    assert response.json()["old_carrier_account"].endswith("3456")
    assert "CARRIER" not in response.json()["old_carrier_account"]


def test_agents_cannot_add_customers(agent_api):
    response = agent_api.send(
        "POST",
        LIST,
        {"name": "New Co", "email": "ops@new.example", "account_id": "ACC-NEW01"},
    )

    assert response.status_code == 403
    assert not Customer.objects.filter(account_id="ACC-NEW01").exists()


def test_an_admin_adds_a_customer_and_the_admin_history_shows_it(admin_api, admin_user):
    response = admin_api.send(
        "POST",
        LIST,
        {
            "name": "New Co",
            "email": "ops@new.example",
            "account_id": "ACC-NEW01",
            "segment": "enterprise",
        },
    )

    assert response.status_code == 201, response.json()
    customer = Customer.objects.get(account_id="ACC-NEW01")
    assert customer.segment == "enterprise"
    entry = LogEntry.objects.get(object_id=str(customer.pk))
    assert entry.user == admin_user and entry.is_addition()


def test_a_taken_account_id_is_refused(admin_api):
    CustomerFactory(account_id="ACC-TAKEN")

    response = admin_api.send(
        "POST",
        LIST,
        {"name": "Again", "email": "again@example.com", "account_id": "ACC-TAKEN"},
    )

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"account_id"}


def test_edit_changes_only_the_fields_sent(admin_api):
    customer = CustomerFactory(name="Old Name", is_vip=False)

    response = admin_api.send(
        "PATCH", f"{LIST}/{customer.pk}", {"is_vip": True, "phone": "+1 555 123 4567"}
    )

    assert response.status_code == 200, response.json()
    customer.refresh_from_db()
    assert (customer.name, customer.is_vip) == ("Old Name", True)
    entry = LogEntry.objects.get(object_id=str(customer.pk))
    assert "VIP" in entry.get_change_message()


def test_edit_refuses_what_the_model_refuses(admin_api):
    customer = CustomerFactory()

    response = admin_api.send("PATCH", f"{LIST}/{customer.pk}", {"phone": "call me"})

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"phone"}


def test_an_unknown_customer_is_not_found(agent_api):
    response = agent_api.get(f"{LIST}/999999")

    assert response.status_code == 404
