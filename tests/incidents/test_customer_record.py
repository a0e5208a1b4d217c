"""The customer record: its fields in messages, masking, and CSV import."""

import datetime as dt
from decimal import Decimal

import pytest
import tablib
from django.core.exceptions import ValidationError
from django.urls import reverse

from comms import services as comms_services
from comms.catalogue import incident_context
from comms.models import MessageTemplate
from incidents.models import Customer
from incidents.resources import CustomerResource
from tests.factories import CustomerFactory, IncidentFactory, UserFactory


def _render(key, incident):
    template = MessageTemplate.objects.select_related("current_version").get(key=key)
    context = incident_context(incident, audience=template.audience)
    return comms_services.preview_template(
        version=template.current_version, context=context
    ).body


@pytest.fixture
def acme(db):
    return CustomerFactory(
        name="Acme Corp",
        company="Acme Corp",
        contact_name="John Smith",
        contact_title="Fleet Manager",
        phone="+1 555 1234",
        package_level="Enterprise",
        annual_contract_value=Decimal("100000"),
        contract_currency="USD",
        relationship_status=Customer.RelationshipStatus.AT_RISK,
        customer_since_on=dt.date(2023, 3, 1),
        renewal_on=dt.date(2027, 3, 1),
        old_carrier_account="998877665544",
        success_manager=UserFactory(first_name="Jane", last_name="Doe"),
    )


@pytest.mark.django_db
def test_the_manager_escalation_names_contact_contract_and_csm(acme, frozen_now):
    incident = IncidentFactory(customer=acme)

    body = _render("internal-manager-escalation", incident)

    assert "Contact: John Smith, Fleet Manager" in body
    assert "+1 555 1234" in body
    assert "Contract value: 100,000.00 USD · renews 1 Mar 2027" in body
    assert "Customer success manager: Jane Doe" in body


@pytest.mark.django_db
def test_the_executive_briefing_names_the_client_and_relationship(acme, frozen_now):
    incident = IncidentFactory(customer=acme)

    body = _render("internal-executive-escalation", incident)

    # The automation agency's executive escalation: the client, the issue
    # with its reputation risk, the status, and what to say and do.
    assert (
        "The client\nCompany: Acme Corp\nPackage: Enterprise\n"
        "Annual value: 100,000.00 USD\nRelationship: customer for 3 years, at risk\n"
    ) in body
    assert "Reputation risk: contained to this client so far" in body
    assert "What the client needs to hear\n- An executive acknowledging" in body
    assert "What we recommend\n- An executive calls or writes" in body


@pytest.mark.django_db
def test_the_carrier_note_masks_the_old_carrier_account(acme):
    incident = IncidentFactory(customer=acme)

    body = _render("internal-carrier-escalation-note", incident)

    assert "phone +1 555 1234" in body
    assert "••••••••5544" in body
    assert "998877665544" not in body


@pytest.mark.django_db
def test_customer_messages_never_see_contract_or_relationship(acme):
    incident = IncidentFactory(customer=acme)

    context = incident_context(incident, audience="customer")

    for name in ("annual_value", "relationship", "renewal_on", "old_carrier_account"):
        assert name not in context["customer"]
    assert context["customer"]["company"] == "Acme Corp"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "shows_full"), [("Agent", False), ("Senior agent", True)]
)
def test_the_incident_page_masks_the_account_number_by_role(
    client, acme, role, shows_full
):
    incident = IncidentFactory(customer=acme)
    client.force_login(UserFactory(role=role))

    page = client.get(incident.get_absolute_url()).content.decode()

    assert ("998877665544" in page) is shows_full
    assert "5544" in page


@pytest.mark.django_db
@pytest.mark.parametrize("phone", ["call me", "12", "+1 555 1234 5678 9012 34"])
def test_a_phone_number_that_does_not_parse_is_refused(phone):
    customer = CustomerFactory.build(phone=phone)

    with pytest.raises(ValidationError) as exc_info:
        customer.full_clean()

    assert "phone" in exc_info.value.message_dict


def _dataset(*rows):
    headers = ["account_id", "name", "email", "segment", "phone", "old_carrier_account"]
    return tablib.Dataset(*rows, headers=headers)


@pytest.mark.django_db
def test_a_dry_run_import_says_row_by_row_what_would_happen():
    CustomerFactory(account_id="ACC-1", name="Old name", email="one@example.com")
    dataset = _dataset(
        ["ACC-1", "New name", "one@example.com", "standard", "", ""],
        ["ACC-2", "Second", "two@example.com", "trial", "+44 20 7946 0000", "1234567"],
    )

    result = CustomerResource().import_data(dataset, dry_run=True)

    assert not result.has_errors() and not result.has_validation_errors()
    assert [row.import_type for row in result.rows] == ["update", "new"]
    assert Customer.objects.get(account_id="ACC-1").name == "Old name"
    assert not Customer.objects.filter(account_id="ACC-2").exists()


@pytest.mark.django_db
def test_an_import_with_a_bad_row_imports_nothing():
    dataset = _dataset(
        ["ACC-1", "Good", "good@example.com", "standard", "", ""],
        ["ACC-2", "Bad", "not-an-email", "standard", "call me", ""],
    )

    result = CustomerResource().import_data(dataset, dry_run=False)

    assert result.has_validation_errors()
    bad = result.invalid_rows[0]
    assert {"email", "phone"} <= set(bad.field_specific_errors)
    assert not Customer.objects.exists()


@pytest.mark.django_db
def test_an_export_masks_numbers_unless_the_role_may_see_them(acme):
    masked = CustomerResource(full_account_numbers=False).export()
    full = CustomerResource(full_account_numbers=True).export()

    assert masked.dict[0]["old_carrier_account"] == "••••••••5544"
    assert full.dict[0]["old_carrier_account"] == "998877665544"


@pytest.mark.django_db
def test_re_importing_a_masked_export_keeps_the_real_number(acme):
    exported = CustomerResource(full_account_numbers=False).export()

    CustomerResource().import_data(exported, dry_run=False)

    acme.refresh_from_db()
    assert acme.old_carrier_account == "998877665544"


@pytest.mark.django_db
def test_admins_import_customers_from_the_admin(client, admin_user):
    client.force_login(admin_user)

    page = client.get(reverse("admin:incidents_customer_import"))

    assert page.status_code == 200


@pytest.mark.django_db
def test_a_renewal_date_in_the_past_is_saved_with_a_warning(client, admin_user, acme):
    client.force_login(admin_user)
    url = reverse("admin:incidents_customer_change", args=[acme.pk])
    from tests.incidents.test_admin import admin_post_data

    data = admin_post_data(client.get(url))
    data["renewal_on"] = "2020-01-31"

    response = client.post(url, data, follow=True)

    acme.refresh_from_db()
    assert acme.renewal_on == dt.date(2020, 1, 31)
    assert "is in the past" in response.content.decode()


@pytest.mark.django_db
def test_the_record_line_joins_what_is_known_without_a_dangling_separator(
    agent_client, acme
):
    acme.phone = acme.old_carrier_account = ""
    acme.success_manager = acme.renewal_on = None
    acme.save()
    incident = IncidentFactory(customer=acme)

    page = agent_client.get(incident.get_absolute_url()).content.decode()

    line = page[page.index("Contact: John Smith") :].split("<", 1)[0].rstrip()
    assert line == "Contact: John Smith, Fleet Manager"
