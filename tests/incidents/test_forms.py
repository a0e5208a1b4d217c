"""The customer box takes what its placeholder promises."""

import pytest
from django.core.exceptions import ValidationError

from incidents.forms import CustomerField
from tests.factories import CustomerFactory


@pytest.fixture
def field():
    return CustomerField(required=False)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "typed",
    ["ZED-1", "zed@example.com", "ZED@Example.com", "Zed Example", "  zed example "],
)
def test_customer_box_picks_the_one_customer_named(field, typed):
    zed = CustomerFactory(
        name="Zed Example", account_id="ZED-1", email="zed@example.com"
    )
    CustomerFactory(name="Zed Examples", account_id="ZED-2", email="zed2@example.com")

    assert field.clean(typed) == zed


@pytest.mark.django_db
def test_customer_box_prefers_the_account_id(field):
    named = CustomerFactory(name="ACC-9", account_id="ACC-1")
    by_account = CustomerFactory(name="Someone", account_id="ACC-9")

    assert field.clean("ACC-9") == by_account
    assert field.clean("ACC-1") == named


@pytest.mark.django_db
def test_customer_box_says_an_ambiguous_name_is_ambiguous(field):
    CustomerFactory(name="Sam Lee", account_id="SAM-1", email="sam@one.example")
    CustomerFactory(name="Sam Lee", account_id="SAM-2", email="sam@two.example")

    with pytest.raises(ValidationError) as exc_info:
        field.clean("sam lee")

    message = exc_info.value.messages[0]
    assert exc_info.value.code == "ambiguous_customer"
    assert "More than one customer is “sam lee”" in message
    assert "Sam Lee <sam@one.example>, SAM-1" in message
    assert "Sam Lee <sam@two.example>, SAM-2" in message
    assert "Type the account id" in message


@pytest.mark.django_db
def test_customer_box_lists_a_few_of_many_namesakes(field):
    for n in range(8):
        CustomerFactory(name="Kim Park", account_id=f"KIM-{n}")

    with pytest.raises(ValidationError) as exc_info:
        field.clean("Kim Park")

    message = exc_info.value.messages[0]
    assert message.count("Kim Park <") == 5
    assert "and more" in message


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["Zed", "nobody@example.com", "NOPE-1"])
def test_customer_box_refuses_what_names_nobody(field, typed):
    CustomerFactory(name="Zed Example", account_id="ZED-1", email="zed@example.com")

    with pytest.raises(ValidationError) as exc_info:
        field.clean(typed)

    assert exc_info.value.code == "unknown_customer"


@pytest.mark.django_db
def test_customer_box_refuses_a_nul_byte_before_looking_anyone_up(field):
    with pytest.raises(ValidationError) as exc_info:
        field.clean("a\x00b")

    assert exc_info.value.code == "null_characters_not_allowed"


@pytest.mark.django_db
def test_incident_form_opens_for_a_customer_typed_by_email(agent_client):
    from django.urls import reverse

    from incidents.models import Category, Incident

    customer = CustomerFactory(email="ops@acme.example")

    response = agent_client.post(
        reverse("incidents:create"),
        {
            "title": "Port-in stuck",
            "priority": "P2",
            "category": Category.objects.get(slug="port_in").pk,
            "customer": "ops@acme.example",
            "service_status": "no_service",
            "sentiment": "frustrated",
            "customer_contact_count": "1",
            "what_happened": "The number transfer is stuck since Monday.",
        },
    )

    assert response.status_code == 302
    assert Incident.objects.get().customer == customer
