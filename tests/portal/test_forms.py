import datetime as dt
import inspect

import pytest
from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

import comms.forms
import escalations.forms.credits
import escalations.forms.metrics
import escalations.forms.routing
import incidents.forms
from incidents.models import RegulatoryRegime
from portal.forms import (
    INTEGER_MAX,
    BoundedKeysMultipleChoiceField,
    InputLimitsMixin,
    ParsedTextField,
    PortalForm,
    refuse_unstorable_text,
)


class _Form(PortalForm):
    name = forms.CharField()
    notes = forms.CharField(widget=forms.Textarea)
    count = forms.IntegerField()
    tags = forms.JSONField(required=False)
    seen_on = forms.DateField(required=False)


def _data(**overrides):
    return {"name": "Ana", "notes": "Fine.", "count": "1", **overrides}


@pytest.mark.parametrize(
    "value",
    ["a\x00b", "\ud800", ["ok", "a\x00"], {"k": ["\x00"]}, {"\x00": "v"}],
)
def test_refuse_unstorable_text_refuses_nul_and_lone_surrogates(value):
    with pytest.raises(ValidationError) as exc_info:
        refuse_unstorable_text(value)

    assert exc_info.value.code == "null_characters_not_allowed"


def test_refuse_unstorable_text_accepts_ordinary_text():
    refuse_unstorable_text(["Zoë <zoe@example.com>", {"k": 1}, None, "😀"])


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "a\x00b"),
        ("name", "x" * 201),
        ("notes", "x" * 10_001),
        ("count", str(INTEGER_MAX + 1)),
        ("count", str(-INTEGER_MAX - 2)),
        ("tags", '["\\u0000"]'),
        ("seen_on", "0001-01-01"),
        ("seen_on", "9999-12-31"),
    ],
)
def test_every_field_gets_the_portal_limits(field, value):
    form = _Form(_data(**{field: value}))

    assert not form.is_valid()
    assert list(form.errors) == [field]


def test_limits_are_shown_in_the_form():
    form = _Form()

    assert form.fields["name"].widget.attrs["maxlength"] == "200"
    assert form.fields["notes"].help_text == "Up to 10,000 characters."
    assert form.fields["count"].widget.attrs["max"] == INTEGER_MAX


def test_a_service_error_on_a_field_the_form_lacks_is_a_form_error():
    form = _Form(_data())
    form.is_valid()

    form.add_error(
        None,
        ValidationError(
            {
                "name": ValidationError("Taken.", code="taken"),
                "version": ValidationError("Too big.", code="max_value"),
            }
        ),
    )

    assert form.errors["name"] == ["Taken."]
    assert form.non_field_errors() == ["Version: Too big."]


def test_a_parsed_field_checks_the_text_before_parsing_it():
    seen = []

    class Field(ParsedTextField):
        def parse(self, text):
            seen.append(text)
            return text.split(",")

    field = Field(max_length=10)

    with pytest.raises(ValidationError):
        field.clean("a\x00")
    with pytest.raises(ValidationError):
        field.clean("a," * 6)
    assert field.clean("a,b") == ["a", "b"]
    assert seen == ["a,b"]


def _our_form_classes():
    for module in (incidents.forms, comms.forms):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__:
                yield cls


@pytest.mark.parametrize("form_class", list(_our_form_classes()))
def test_every_portal_form_holds_the_input_limits(form_class):
    assert issubclass(form_class, InputLimitsMixin)


def test_every_admin_form_of_ours_holds_the_input_limits():
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in ("incidents", "comms", "escalations"):
            continue
        assert issubclass(model_admin.form, InputLimitsMixin), model
        for inline in model_admin.inlines:
            assert issubclass(inline.form, InputLimitsMixin), inline


def test_a_date_inside_the_span_is_accepted():
    form = _Form(_data(seen_on="2026-01-05"))

    assert form.is_valid(), form.errors
    assert form.cleaned_data["seen_on"] == dt.date(2026, 1, 5)


def _every_form_class():
    modules = (
        incidents.forms,
        comms.forms,
        escalations.forms.credits,
        escalations.forms.metrics,
        escalations.forms.routing,
    )
    for module in modules:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__:
                yield cls


def test_every_many_box_of_ours_refuses_keys_no_column_holds():
    # SQLite cannot bind a 40-digit key: a plain ModelMultipleChoiceField
    # answered a server error for one (the regulatory clocks, the evidence
    # of a credit request).
    plain = [
        f"{cls.__name__}.{name}"
        for cls in _every_form_class()
        for name, field in cls.base_fields.items()
        if isinstance(field, forms.ModelMultipleChoiceField)
        and not isinstance(field, BoundedKeysMultipleChoiceField)
    ]

    assert plain == []


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["9" * 40, str(INTEGER_MAX + 1)])
def test_a_key_past_the_integer_column_is_a_form_error(key):
    form = incidents.forms.RegulatoryClocksForm({"regimes": [key]})

    assert not form.is_valid()
    assert "not a valid value" in " ".join(form.errors["regimes"])
    assert RegulatoryRegime.objects.exists()


@pytest.mark.parametrize(
    ("typed", "amount"),
    [("1250", "1250"), ("1,250.50", "1250.50"), ("0.5", "0.5"), ("12.34", "12.34")],
)
def test_amounts_read_as_people_type_them(typed, amount):
    from decimal import Decimal

    from portal.forms import parse_amount

    assert parse_amount(typed) == Decimal(amount)


@pytest.mark.parametrize(
    "typed",
    ["1_000", "０１２", "١٢٣", "12.340", "1.000,50", "1,25", "--5", "1e3", "NaN"],
)
def test_everything_else_is_refused_alike_in_forms_and_services(typed):
    from django import forms
    from django.core.exceptions import ValidationError

    from escalations.services import clean_amount
    from portal.forms import AmountField

    class Form(forms.Form):
        amount = AmountField(decimal_places=2, max_digits=12)

    form = Form(data={"amount": typed})
    with pytest.raises(ValidationError):
        clean_amount(typed)

    assert not form.is_valid()
    assert "amount" in form.errors
