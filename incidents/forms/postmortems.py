"""Post-mortem forms: start, edit, timeline rows, actions, review, search."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Field, Layout, Row
from django import forms

from portal.forms import (
    PortalForm,
)

from .. import selectors
from ..models import (
    POSTMORTEM_ACTION_KINDS,
    PostMortem,
)
from .intake import DATETIME_WIDGET, StaffChoiceField, _col

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class PostMortemStartForm(PortalForm):
    scheduled_on = forms.DateField(
        widget=DATE_WIDGET,
        required=False,
        label="Review meeting on",
        help_text="Can be set later.",
    )


class PostMortemForm(PortalForm):
    scheduled_on = forms.DateField(widget=DATE_WIDGET, required=False, label="Date")
    attendees = forms.CharField(
        required=False,
        max_length=2_000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Names or teams.",
    )
    summary = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    went_well = forms.CharField(
        required=False,
        label="What went well",
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    went_wrong = forms.CharField(
        required=False,
        label="What went wrong",
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Row(_col("scheduled_on", 3), _col("attendees", 9)),
            Field("summary"),
            Row(_col("went_well"), _col("went_wrong")),
        )


class PostMortemRowForm(PortalForm):
    at = forms.DateTimeField(widget=DATETIME_WIDGET, label="Time")
    text = forms.CharField(max_length=300, label="What happened")


class PostMortemActionForm(PortalForm):
    what = forms.CharField(max_length=300, label="Action")
    kind = forms.ChoiceField(
        choices=[(k.value, k.label) for k in POSTMORTEM_ACTION_KINDS]
    )
    # Blank allowed here so the service gives its own message for a missing
    # owner or deadline, the same one the admin and the shell get.
    owner = StaffChoiceField(queryset=selectors.assignable_staff(), required=False)
    deadline_on = forms.DateField(widget=DATE_WIDGET, required=False, label="Deadline")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Row(
                _col("what", 5),
                _col("kind", 2),
                _col("owner", 3),
                _col("deadline_on", 2),
            )
        )


class PostMortemReturnForm(PortalForm):
    reason = forms.CharField(max_length=500, label="What needs changing")


class PostMortemSearchForm(PortalForm):
    q = forms.CharField(required=False, max_length=200, label="Search")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *PostMortem.Status.choices]
    )
