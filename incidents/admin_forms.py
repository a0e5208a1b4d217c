"""Admin form fields that speak the administrator's units, not the database's.

Durations are stored as minutes, working days as ISO weekday digits and time
zones as IANA names; the admin shows hours and days, ticked weekdays and a
searchable list of zones instead.
"""

import re
import zoneinfo
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

MINUTES_PER_UNIT = {
    "w": 7 * 24 * 60,
    "d": 24 * 60,
    "h": 60,
    "m": 1,
}
UNIT_NAMES = {
    "w": "w",
    "wk": "w",
    "week": "w",
    "weeks": "w",
    "d": "d",
    "day": "d",
    "days": "d",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "m": "m",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
}
# A year: longer than any target or cadence anyone means, and far below
# the integer column's limit.
MAX_DURATION_MINUTES = 365 * 24 * 60
MAX_DURATION_TEXT = 40
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*([a-z]+)")
# Amounts with units, optionally separated by commas or "and".
_DURATION = re.compile(r"(?:\d+(?:[.,]\d+)?\s*[a-z]+?\s*(?:,|\band\b)?\s*)+")
_CLOCK = re.compile(r"^(\d{1,4}):([0-5]\d)$")
DURATION_EXAMPLES = "30 min, 4 h, 1 h 30 min, 2 d or 1:30"
DURATION_HINT = "Durations: write 30 min, 4 h, 1 h 30 min or 2 d."


def format_duration(minutes: int | None) -> str:
    """Return ``minutes`` in the largest whole units: "1 d 2 h", "30 min"."""
    if minutes is None:
        return ""
    if minutes == 0:
        return "0 min"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} d")
    if hours:
        parts.append(f"{hours} h")
    if mins:
        parts.append(f"{mins} min")
    return " ".join(parts)


def parse_duration(text: str) -> int:
    """Return the minutes in "1h 30m", "90 min", "2 h", "1 day" or "1:30".

    A bare number is refused: "4" could be minutes or hours, and a target
    off by a factor of 60 is worse than a second try.
    """
    cleaned = text.strip().lower()
    if len(cleaned) > MAX_DURATION_TEXT:
        raise ValidationError(
            "Write a duration in a few characters, e.g. " + DURATION_EXAMPLES + ".",
            code="duration_invalid",
        )
    clock = _CLOCK.match(cleaned)
    if clock:
        return int(clock.group(1)) * 60 + int(clock.group(2))
    if _NUMBER.fullmatch(cleaned):
        raise ValidationError(
            "Add a unit: “%(value)s h” or “%(value)s min”.",
            code="duration_unit_missing",
            params={"value": cleaned},
        )
    total = Decimal(0)
    units = [UNIT_NAMES.get(unit) for _, unit in _PART.findall(cleaned)]
    if (
        not _DURATION.fullmatch(cleaned)
        or None in units
        or len(set(units)) != len(units)
    ):
        raise ValidationError(
            "“%(value)s” is not a duration; write it like " + DURATION_EXAMPLES + ".",
            code="duration_invalid",
            params={"value": text.strip()[:MAX_DURATION_TEXT]},
        )
    for (amount, _), unit in zip(_PART.findall(cleaned), units, strict=True):
        total += Decimal(amount.replace(",", ".")) * MINUTES_PER_UNIT[unit]
    if total != total.to_integral_value():
        raise ValidationError(
            "Give whole minutes, e.g. 1 h 30 min rather than 1.505 h.",
            code="duration_fraction",
        )
    return int(total)


class DurationInput(forms.TextInput):
    """A short text box that shows stored minutes as "4 h" or "1 d 2 h"."""

    class Media:
        css = {"all": ["css/admin-widgets.css"]}

    def __init__(self, attrs=None):
        super().__init__(
            {
                "size": 12,
                "class": "duration-input",
                "placeholder": "e.g. 4 h",
                **(attrs or {}),
            }
        )

    def format_value(self, value):
        if isinstance(value, int):
            return format_duration(value)
        return super().format_value(value)


class DurationField(forms.Field):
    """Minutes, entered and shown with units."""

    widget = DurationInput
    default_error_messages = {
        "too_long": "At most 365 days.",
        "too_short": "At least %(minimum)s.",
    }

    def __init__(self, *, min_minutes: int = 0, **kwargs):
        self.min_minutes = min_minutes
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, int):
            return value
        return parse_duration(str(value))

    def validate(self, value):
        super().validate(value)
        if value is None:
            return
        if value > MAX_DURATION_MINUTES:
            raise ValidationError(self.error_messages["too_long"], code="too_long")
        if value < self.min_minutes:
            raise ValidationError(
                self.error_messages["too_short"],
                code="too_short",
                params={"minimum": format_duration(self.min_minutes)},
            )

    def prepare_value(self, value):
        if isinstance(value, int):
            return format_duration(value)
        return value


WEEKDAY_CHOICES = [
    ("1", "Monday"),
    ("2", "Tuesday"),
    ("3", "Wednesday"),
    ("4", "Thursday"),
    ("5", "Friday"),
    ("6", "Saturday"),
    ("7", "Sunday"),
]


class WeekdayBoxes(forms.CheckboxSelectMultiple):
    """Monday to Sunday in one row."""

    class Media:
        css = {"all": ["css/admin-widgets.css"]}

    def __init__(self, attrs=None, choices=()):
        super().__init__({"class": "weekday-boxes", **(attrs or {})}, choices)


class WeekdaysField(forms.MultipleChoiceField):
    """Working days as ticked boxes, stored as ISO digits ("12345")."""

    widget = WeekdayBoxes

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "error_messages", {"required": "Tick at least one working day."}
        )
        super().__init__(choices=WEEKDAY_CHOICES, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, str):
            return list(value)
        return value

    def clean(self, value):
        days = super().clean(value)
        return "".join(sorted(set(days)))

    def has_changed(self, initial, data):
        return "".join(sorted(initial or "")) != "".join(sorted(data or []))


class TimeZoneSelect(forms.Select):
    """A select of every IANA zone that static/js/admin-filter.js makes
    searchable; without the script it is still an ordinary select."""

    class Media:
        js = ["js/admin-filter.js"]
        css = {"all": ["css/admin-widgets.css"]}

    def __init__(self, attrs=None):
        super().__init__(
            {"data-filter": "Type to filter zones, e.g. Berlin", **(attrs or {})}
        )


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class TimeZoneField(forms.ChoiceField):
    """An IANA time zone picked from the list; blank only where allowed."""

    widget = TimeZoneSelect

    def __init__(self, *, required: bool = True, blank_label: str = "", **kwargs):
        choices = time_zone_choices()
        if not required:
            choices = [("", blank_label or "—"), *choices]
        kwargs.setdefault(
            "error_messages",
            {
                "invalid_choice": "“%(value)s” is not a time zone in the list; "
                "pick one such as Europe/Berlin.",
            },
        )
        super().__init__(choices=choices, required=required, **kwargs)

    def valid_value(self, value):
        # A zone stored before the list changed (or an alias such as
        # "US/Eastern") stays valid while the system still knows it.
        if super().valid_value(value):
            return True
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return False
        return True


# Labels and help for the minutes fields of policies and their targets, in
# the words the admin page uses next to a duration box.
DURATION_LABELS = {
    # Automation: auto-close rules.
    "check_in_after_resolved_minutes": (
        "Check in after a silent resolution",
        "Resolved and no customer reply this long: send the check-in "
        "(carrier communication playbook: 72 h).",
    ),
    "close_after_check_in_minutes": (
        "Close after the check-in",
        "Still no reply this long after the check-in: close as resolved "
        "(carrier communication playbook: 3 d, as the check-in says).",
    ),
    "close_pending_after_minutes": (
        "Close as pending after",
        "Waiting on the customer with no reply this long: close as pending "
        "(carrier communication playbook: 7 d).",
    ),
    "first_response_minutes": ("First response within", ""),
    "resolution_minutes": (
        "Resolution within",
        "Clock time, e.g. 4 h or 3 d. Fill this or business days.",
    ),
    "internal_update_minutes": ("Internal updates every", "Empty: as needed."),
    "customer_update_minutes": ("Customer updates every", "Empty: as needed."),
    "partner_update_minutes": (
        "Partner/vendor updates every",
        "Empty: as needed.",
    ),
    "no_response_escalation_minutes": (
        "Escalate a silent party after",
        "Empty: never automatically.",
    ),
    "manager_notify_minutes": ("Notify a manager after", ""),
    "first_response_at_risk_minutes": (
        "First response at risk",
        "How long before its deadline the clock shows at risk. Empty: the "
        "policy's window (half the target when that is shorter).",
    ),
    "resolution_at_risk_minutes": (
        "Resolution at risk",
        "Empty: the policy's window (half the target when that is shorter).",
    ),
    "at_risk_minutes": (
        "At-risk window",
        "A running deadline closer than this shows as at risk, unless its "
        "target sets its own window; a target shorter than twice this is at "
        "risk for its second half only.",
    ),
}
# Targets must take some time; windows and cadences may be zero.
MINIMUM_MINUTES = {"first_response_minutes": 1, "resolution_minutes": 1}


def admin_formfield(db_field, **kwargs) -> forms.Field | None:
    """Return a friendlier form field for ``db_field``, or None to keep Django's.

    Used by our ModelAdmins' ``formfield_for_dbfield``: every ``*_minutes``
    field becomes a duration, every ``time_zone`` a zone list and
    ``working_weekdays`` a row of checkboxes.
    """
    required = not db_field.blank
    if db_field.name.endswith("_minutes"):
        label, help_text = DURATION_LABELS.get(
            db_field.name,
            (db_field.verbose_name.removesuffix(" minutes").capitalize(), ""),
        )
        return DurationField(
            label=label,
            required=required,
            min_minutes=MINIMUM_MINUTES.get(db_field.name, 0),
            help_text=help_text,
            initial=db_field.default if db_field.has_default() else None,
        )
    if db_field.name == "time_zone":
        return TimeZoneField(
            required=required,
            label=db_field.verbose_name.capitalize(),
            help_text=db_field.help_text,
            blank_label="— none: use the policy's zone —",
            initial=db_field.default if db_field.has_default() else None,
        )
    if db_field.name == "working_weekdays":
        return WeekdaysField(
            label="Working days",
            help_text="Business-day targets count only the ticked days.",
            initial=db_field.default if db_field.has_default() else None,
        )
    return None


class FriendlyFieldsMixin:
    """Give a ModelAdmin or inline the fields of :func:`admin_formfield`."""

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        return admin_formfield(db_field) or super().formfield_for_dbfield(
            db_field, request, **kwargs
        )
