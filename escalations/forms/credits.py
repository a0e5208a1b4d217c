"""Forms of the credit pages: their shape only; the rules are the service's."""

import datetime as dt
from decimal import Decimal

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Layout, Row, Submit
from django import forms
from django.utils import timezone

from comms.models import Message
from incidents.models import Customer
from portal.forms import AmountField, BoundedKeysMultipleChoiceField, PortalForm

from ..models import CreditKind

AMOUNT_ERRORS = {
    "invalid": "Enter the amount as a number, e.g. 250.00.",
    "max_decimal_places": "Use at most two decimals (cents), e.g. 99.95.",
    "max_digits": "That amount is far over any policy's largest request. Check it.",
    "max_whole_digits": "That amount is far over any policy's largest request. "
    "Check it.",
    "min_value": "The amount must be more than zero.",
}


def _col(name: str, width: int) -> Div:
    return Div(Field(name), css_class=f"col-md-{width}")


class EvidenceChoiceField(BoundedKeysMultipleChoiceField):
    def label_from_instance(self, message):
        when = timezone.localtime(message.created_at).strftime("%d %b %H:%M")
        return (
            f"{message.get_audience_display()} {message.get_channel_display()} · "
            f"{message.subject or message.body[:50]} ({when})"
        )


class CreditRequestForm(PortalForm):
    kind = forms.ChoiceField(choices=CreditKind.choices)
    amount = AmountField(
        max_digits=12,
        decimal_places=2,
        # A Decimal: the float 0.01 is a hair above one cent, so a one-cent
        # amount would be refused as not more than zero.
        min_value=Decimal("0.01"),
        error_messages=AMOUNT_ERRORS,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        help_text="What it is worth, e.g. 250.00.",
    )
    currency = forms.CharField(max_length=3, min_length=3, initial="USD")
    extension_days = forms.IntegerField(
        min_value=1,
        max_value=3650,
        required=False,
        label="Days added",
        help_text="Plan extensions only.",
    )
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.none(),
        required=False,
        help_text="Who gets it; on a systemic incident pick one affected customer.",
    )
    reason = forms.CharField(
        max_length=2_000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why the customer should get it. The decider reads this; the "
        "customer does not.",
    )
    evidence_messages = EvidenceChoiceField(
        queryset=Message.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Evidence: messages of this incident",
    )
    evidence_note = forms.CharField(
        max_length=2_000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Evidence note",
        help_text="Anything else the decider should see: a bill, a screenshot "
        "link, the SLA terms.",
    )

    def __init__(self, *args, incident, customers, messages, currency="USD", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].initial = currency
        self.fields["evidence_messages"].queryset = messages
        if incident.is_systemic or incident.customer_id is None:
            self.fields["customer"].queryset = customers
            self.fields["customer"].required = True
        else:
            del self.fields["customer"]
        self.helper = FormHelper()
        self.helper.form_tag = False
        fields = [
            Row(
                _col("kind", 4),
                _col("amount", 3),
                _col("currency", 2),
                _col("extension_days", 3),
            )
        ]
        if "customer" in self.fields:
            fields.append(Field("customer"))
        fields += [
            Field("reason"),
            Field("evidence_messages"),
            Field("evidence_note"),
            Submit("submit", "Request the credit"),
        ]
        self.helper.layout = Layout(*fields)

    def clean_currency(self):
        return self.cleaned_data["currency"].strip().upper()


class DecisionForm(PortalForm):
    """Approve (reason optional) or reject (reason required, said by the service)."""

    reason = forms.CharField(max_length=2_000, required=False)


class ApplyForm(PortalForm):
    billing_reference = forms.CharField(max_length=100)


class CancelForm(PortalForm):
    reason = forms.CharField(max_length=2_000)


class ExportForm(PortalForm):
    BASIS_CHOICES = [
        ("requested", "Asked for in the month"),
        ("applied", "Applied in billing in the month"),
    ]

    month = forms.CharField(
        max_length=7,
        widget=forms.TextInput(
            attrs={"type": "month", "class": "form-control form-control-sm"}
        ),
        help_text="e.g. 2026-11",
    )
    basis = forms.ChoiceField(
        choices=BASIS_CHOICES,
        initial="requested",
        required=False,
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )

    def clean_basis(self):
        return self.cleaned_data["basis"] or "requested"

    def clean_month(self):
        text = self.cleaned_data["month"].strip()
        try:
            first = dt.datetime.strptime(text, "%Y-%m").date()
        except ValueError:
            raise forms.ValidationError(
                "Pick a month, written as YYYY-MM (e.g. 2026-11).", code="invalid"
            ) from None
        if not 2000 <= first.year <= 2100:
            raise forms.ValidationError(
                "Pick a month between 2000 and 2100.", code="out_of_range"
            )
        return first
