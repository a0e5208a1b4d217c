"""What every form of the portal accepts, whoever wrote the form.

Text holds no NUL characters or unpaired surrogates (PostgreSQL stores
neither), text fits a stated size, numbers fit the database's integer column
and dates lie in a span the deadline arithmetic can handle. The limits are
applied to a form's fields once it is built, so a field added later, or one
the admin builds from a model, gets them without saying so.
"""

import re
from decimal import Decimal

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
    ProhibitNullCharactersValidator,
)

# PostgreSQL's integer column: the narrowest integer column a form fills.
INTEGER_MIN, INTEGER_MAX = -2_147_483_648, 2_147_483_647
# Text a field does not size itself: one line (a name, a search) or a
# narrative (what happened, a root cause).
LINE_MAX_LENGTH = 200
NARRATIVE_MAX_LENGTH = 10_000
# A message body, a template's wording or a pasted reply.
MESSAGE_MAX_LENGTH = 20_000
# Deadlines are computed by adding days to the dates people enter; far from
# today that arithmetic leaves the calendar Python and the database know.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _has_unstorable_text(value) -> bool:
    if isinstance(value, str):
        return bool(_UNSTORABLE.search(value))
    if isinstance(value, dict):
        return any(_has_unstorable_text(v) for item in value.items() for v in item)
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_unstorable_text(v) for v in value)
    return False


def refuse_unstorable_text(value) -> None:
    """Refuse NUL characters and unpaired surrogates, in text or nested in lists."""
    if _has_unstorable_text(value):
        raise ValidationError(
            "Remove the invisible control character (NUL or a broken character) "
            "from this text.",
            code="null_characters_not_allowed",
        )


def refuse_far_dates(value) -> None:
    """Refuse dates outside the years the portal's date arithmetic handles."""
    if value is not None and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValidationError(
            f"Enter a date between {EARLIEST_YEAR} and {LATEST_YEAR}.",
            code="date_out_of_range",
        )


def apply_input_limits(field: forms.Field) -> None:
    """Apply the portal's limits to one form field (idempotent)."""
    if refuse_unstorable_text not in field.validators:
        # Django's own check looks at strings only, not lists or JSON.
        field.validators = [
            v
            for v in field.validators
            if not isinstance(v, ProhibitNullCharactersValidator)
        ] + [refuse_unstorable_text]
    if isinstance(field, forms.CharField):
        _limit_text_length(field)
    if isinstance(field, forms.IntegerField) and not isinstance(
        field, forms.DecimalField | forms.FloatField
    ):
        if field.max_value is None or field.max_value > INTEGER_MAX:
            field.max_value = INTEGER_MAX
            field.validators.append(MaxValueValidator(INTEGER_MAX))
        if field.min_value is None or field.min_value < INTEGER_MIN:
            field.min_value = INTEGER_MIN
            field.validators.append(MinValueValidator(INTEGER_MIN))
        if not field.widget.is_hidden:
            field.widget.attrs.update(field.widget_attrs(field.widget))
    is_date = isinstance(
        field, forms.DateField | forms.DateTimeField | forms.SplitDateTimeField
    )
    if is_date and refuse_far_dates not in field.validators:
        field.validators.append(refuse_far_dates)


def _limit_text_length(field: forms.CharField) -> None:
    """Give a text field a maximum length, and say it under a text area."""
    is_area = isinstance(field.widget, forms.Textarea)
    if field.max_length is None:
        field.max_length = NARRATIVE_MAX_LENGTH if is_area else LINE_MAX_LENGTH
        field.validators.append(MaxLengthValidator(field.max_length))
        field.widget.attrs.update(field.widget_attrs(field.widget))
    note = f"Up to {field.max_length:,} characters."
    if is_area and note not in str(field.help_text):
        field.help_text = f"{field.help_text} {note}" if field.help_text else note


class ParsedTextField(forms.CharField):
    """A text box whose text becomes something else: a record, a list.

    The text is held to the limits before ``parse`` sees it, since parsing may
    look it up in the database, and validators see only what parse returns.
    """

    default_max_length = LINE_MAX_LENGTH

    def __init__(self, *, max_length=None, **kwargs):
        super().__init__(max_length=max_length or self.default_max_length, **kwargs)
        self.validators = [
            v
            for v in self.validators
            if not isinstance(v, MaxLengthValidator | ProhibitNullCharactersValidator)
        ]

    def to_python(self, value):
        text = super().to_python(value)
        refuse_unstorable_text(text)
        MaxLengthValidator(self.max_length)(text)
        return self.parse(text)

    def parse(self, text: str):
        """Return the value the text stands for; raise ValidationError if none."""
        return text


class InputLimitsMixin:
    """Hold every field of a form to the portal's input limits.

    Also takes service errors keyed by model fields the form lacks (a
    ``full_clean`` of the model names them all) as errors of the whole form,
    where ``add_error`` would otherwise raise.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            apply_input_limits(field)

    def add_error(self, field, error):
        if field is None and hasattr(error, "error_dict"):
            stray = {
                name: errors
                for name, errors in error.error_dict.items()
                if name != NON_FIELD_ERRORS and name not in self.fields
            }
            if stray:
                known = {
                    name: errors
                    for name, errors in error.error_dict.items()
                    if name not in stray
                }
                if known:
                    super().add_error(None, ValidationError(known))
                for name, errors in stray.items():
                    label = name.replace("_", " ").capitalize()
                    super().add_error(
                        None,
                        [
                            ValidationError(f"{label}: {message}", code=e.code)
                            for e in errors
                            for message in e.messages
                        ],
                    )
                return
        super().add_error(field, error)


class BoundedKeysMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Refuse keys no integer column holds before asking the database.

    Django passes them on, and SQLite cannot even bind a 40-digit number
    (a server error in place of "Select a valid choice").
    """

    def _check_values(self, value):
        for key in value:
            try:
                number = int(str(key))
            except ValueError:
                continue  # Django's own message covers it
            if not INTEGER_MIN <= number <= INTEGER_MAX:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": key},
                )
        return super()._check_values(value)


class PortalForm(InputLimitsMixin, forms.Form):
    """A form of the portal's pages."""


class PortalModelForm(InputLimitsMixin, forms.ModelForm):
    """A model form of the admin."""


def error_codes(exc: ValidationError) -> set[str]:
    """Return every code a ValidationError carries, field errors included."""
    if hasattr(exc, "error_dict"):
        return {e.code for errors in exc.error_dict.values() for e in errors}
    return {e.code for e in exc.error_list}


# Money as people type it here: ASCII digits, an optional comma between
# each group of three, and a dot before at most two cents (a minus sign is
# read, for the field's own "more than zero" to answer). Everything else
# (1_000, full-width or Arabic-Indic digits, 12.340, 1.000,50) is refused
# the same way wherever an amount is typed.
AMOUNT_PATTERN = re.compile(r"-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]{1,2})?")
AMOUNT_HELP = "Digits with a dot for cents, e.g. 1250.00 or 1,250.00."


class NotAnAmount(ValueError):
    """Typed text that is not an amount; says why, with a form error code."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message, self.code = message, code


def parse_amount(text: str) -> Decimal:
    """Return the amount typed in ``text``; NotAnAmount says why it is not."""
    text = text.strip()
    if AMOUNT_PATTERN.fullmatch(text):
        return Decimal(text.replace(",", ""))
    if re.fullmatch(r"-?[0-9]+\.[0-9]{3,}", text):
        raise NotAnAmount(
            "Use at most two decimals (cents), e.g. 99.95.", "too_many_decimals"
        )
    raise NotAnAmount(f"Enter the amount as a number. {AMOUNT_HELP}", "invalid")


class AmountField(forms.DecimalField):
    """A money field that reads only what ``parse_amount`` reads."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal):
            return value
        try:
            return parse_amount(str(value))
        except NotAnAmount as exc:
            raise ValidationError(exc.message, code=exc.code) from None


class PageVersionField(forms.IntegerField):
    """The version of the record the page showed: the two-editors guard.

    Missing or garbled, the guard could not compare, so the post is
    refused rather than let through unchecked.
    """

    widget = forms.HiddenInput
    default_error_messages = {
        "required": "This page was incomplete; reload it and try again.",
        "invalid": "This page was incomplete; reload it and try again.",
        "min_value": "This page was incomplete; reload it and try again.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        super().__init__(**kwargs)
