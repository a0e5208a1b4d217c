"""The dashboard's range filter and the review form."""

import datetime as dt
import zoneinfo

from crispy_forms.helper import FormHelper
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from incidents.models import Policy
from portal.forms import PortalForm, PortalModelForm

from ..metrics import Period
from ..models import Review, ReviewAction

DATE_WIDGET = forms.DateInput(attrs={"type": "date"})
DEFAULT_DAYS = 30


class MetricsRangeForm(PortalForm):
    """A date range (in the reader's zone, both days included) and a policy."""

    start = forms.DateField(label="From", widget=DATE_WIDGET)
    end = forms.DateField(label="To", widget=DATE_WIDGET)
    policy = forms.ModelChoiceField(
        queryset=Policy.objects.order_by("name"),
        required=False,
        empty_label="All policies",
        help_text="Pick a policy to compare each figure with its targets.",
    )

    def __init__(self, data=None, *, today: dt.date, **kwargs):
        initial = {"start": today - dt.timedelta(days=DEFAULT_DAYS - 1), "end": today}
        # An unfiltered visit shows the last 30 days, validated like any other.
        if not data or not (data.get("start") or data.get("end")):
            data = {**initial, **({"policy": data.get("policy")} if data else {})}
        super().__init__(data, initial=initial, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                raise ValidationError(
                    "The range ends before it starts: swap the two dates.",
                    code="reversed",
                )
            longest = settings.METRICS_MAX_RANGE_DAYS
            if (end - start).days + 1 > longest:
                raise ValidationError(
                    f"Pick a range of at most {longest} days.", code="too_long"
                )
        return cleaned

    def period(self, *, zone: zoneinfo.ZoneInfo, now: dt.datetime) -> Period:
        data = self.cleaned_data

        def midnight(day):
            return dt.datetime.combine(day, dt.time(), tzinfo=zone)

        return Period(
            start=midnight(data["start"]),
            end=midnight(data["end"] + dt.timedelta(days=1)),
            policy=data["policy"],
            now=now,
        )


class ReviewForm(PortalModelForm):
    class Meta:
        model = Review
        fields = ["kind", "policy", "period_start_on", "period_end_on", "findings"]
        widgets = {
            "period_start_on": DATE_WIDGET,
            "period_end_on": DATE_WIDGET,
            "findings": forms.Textarea(attrs={"rows": 6}),
        }
        labels = {"period_start_on": "From", "period_end_on": "To"}
        help_texts = {
            "findings": "What the review found: patterns, gaps, what went well."
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class ReviewActionForm(PortalModelForm):
    class Meta:
        model = ReviewAction
        fields = ["what", "owner", "due_on"]
        widgets = {"due_on": DATE_WIDGET}
        labels = {"due_on": "Due"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = (
            self.fields["owner"]
            .queryset.filter(is_active=True)
            .order_by("first_name", "last_name")
        )
        self.fields["owner"].label_from_instance = lambda user: (
            user.get_full_name() or user.get_username()
        )
        self.helper = FormHelper()
        self.helper.form_tag = False


ReviewActionFormSet = forms.inlineformset_factory(
    Review,
    ReviewAction,
    form=ReviewActionForm,
    extra=3,
    can_delete=False,
)
