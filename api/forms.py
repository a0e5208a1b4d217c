"""Forms: the admin's token form, the customer form, and the page forms'
data as a page would post it."""

from django import forms
from django.utils import timezone

from incidents.models import Customer
from portal.forms import PortalModelForm

from .models import ApiToken


def posted_values(form: forms.Form) -> dict:
    """Return what the page posts for an unbound form: its initial values.

    The API changes a record by overlaying the sent fields on these, so a
    field it leaves out keeps its value, exactly as the page's form does.
    """
    return {name: form[name].value() for name in form.fields}


def untouched_values(form: forms.Form) -> dict:
    """Return what a browser posts for a new, untouched form: the initial
    values, and the first option of each select that has no initial one."""
    values = posted_values(form)
    for name, field in form.fields.items():
        is_select = isinstance(field, forms.ChoiceField) and not isinstance(
            field, forms.ModelChoiceField | forms.MultipleChoiceField
        )
        if is_select and values[name] in (None, "") and field.choices:
            values[name] = field.choices[0][0]
    return values


class ApiTokenForm(PortalModelForm):
    """A new token: for whom, what it is for, what it may do, until when."""

    class Meta:
        model = ApiToken
        fields = ["user", "name", "scope", "expires_at"]

    def clean_user(self):
        user = self.cleaned_data["user"]
        if not user.is_active:
            raise forms.ValidationError("That account is inactive.")
        return user

    def clean_expires_at(self):
        expires_at = self.cleaned_data["expires_at"]
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return expires_at


class CustomerForm(PortalModelForm):
    """A customer's fields, as the admin edits them."""

    class Meta:
        model = Customer
        fields = [
            "name",
            "email",
            "account_id",
            "policy",
            "segment",
            "account_status",
            "is_vip",
            "customer_since_on",
            "phone",
            "old_carrier_account",
            "time_zone",
            "company",
            "contact_name",
            "contact_title",
            "package_level",
            "annual_contract_value",
            "contract_currency",
            "relationship_status",
            "renewal_on",
        ]
