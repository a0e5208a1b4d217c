"""The customer's satisfaction survey."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Field, Layout, Submit
from django import forms

from portal.forms import (
    PortalForm,
)

SCORE_CHOICES = [(n, str(n)) for n in range(1, 6)]


class SurveyForm(PortalForm):
    score = forms.TypedChoiceField(
        label="Overall, how satisfied are you with our support on this issue?",
        choices=SCORE_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
        help_text="1 is very unhappy, 5 is very happy.",
    )
    communication_score = forms.TypedChoiceField(
        label="How clear and timely were our updates?",
        choices=[("", "Skip"), *SCORE_CHOICES],
        coerce=int,
        empty_value=None,
        required=False,
    )
    response_time_score = forms.TypedChoiceField(
        label="How happy are you with how quickly we first answered?",
        choices=[("", "Skip"), *SCORE_CHOICES],
        coerce=int,
        empty_value=None,
        required=False,
    )
    resolution_score = forms.TypedChoiceField(
        label="How happy are you with the fix itself?",
        choices=[("", "Skip"), *SCORE_CHOICES],
        coerce=int,
        empty_value=None,
        required=False,
    )
    handling_score = forms.TypedChoiceField(
        label="How well did the people helping you look after you: easy to reach, "
        "courteous, taking ownership?",
        choices=[("", "Skip"), *SCORE_CHOICES],
        coerce=int,
        empty_value=None,
        required=False,
    )
    comment = forms.CharField(
        label="Anything you would like to tell us?",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.layout = Layout(
            Field("score"),
            Field("communication_score"),
            Field("response_time_score"),
            Field("resolution_score"),
            Field("handling_score"),
            Field("comment"),
            Submit("send", "Send my answer"),
        )
