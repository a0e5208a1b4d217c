"""The credit request form checks the shape of the input only."""

from decimal import Decimal

import pytest

from comms.models import Message
from escalations.forms.credits import CreditRequestForm, ExportForm
from incidents.models import Customer
from tests.factories import IncidentFactory


def _form(incident, **data):
    return CreditRequestForm(
        {
            "kind": "refund",
            "amount": "250.00",
            "currency": "usd",
            "reason": "Billed twice.",
            **data,
        },
        incident=incident,
        customers=Customer.objects.none(),
        messages=Message.objects.none(),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("0", "more than zero"),
        ("-1", "more than zero"),
        ("1,5", "as a number"),
        ("abc", "as a number"),
        ("1.234", "two decimals"),
        ("12345678901", "far over"),
        ("", "required"),
    ],
)
def test_request_form_refuses_bad_amounts_with_a_clear_message(amount, text):
    form = _form(IncidentFactory(), amount=amount)

    assert not form.is_valid()
    assert text in " ".join(form.errors["amount"])


@pytest.mark.django_db
def test_request_form_takes_one_cent():
    # The smallest amount the form names: a float minimum refused it.
    form = _form(IncidentFactory(), amount="0.01")

    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == Decimal("0.01")


@pytest.mark.django_db
def test_request_form_upper_cases_the_currency_and_drops_customer_when_single():
    form = _form(IncidentFactory())

    assert form.is_valid(), form.errors
    assert form.cleaned_data["currency"] == "USD"
    assert "customer" not in form.fields


@pytest.mark.parametrize("month", ["2026-13", "26-11", "11/2026", "1999-12"])
def test_export_form_refuses_bad_months(month):
    assert not ExportForm({"month": month}).is_valid()
