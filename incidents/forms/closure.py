"""Resolve, the closure checklist, close and recurrence."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Field, Layout
from django import forms
from django.utils.html import format_html

from portal.forms import (
    NARRATIVE_MAX_LENGTH,
    PageVersionField,
    PortalForm,
)

from ..models import (
    Incident,
    ResolutionVerification,
    TimelineEvent,
)


class ResolveForm(PortalForm):
    """How it was fixed and verified; the fields fill the incident's own."""

    root_cause = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=NARRATIVE_MAX_LENGTH,
        label="Root cause",
        help_text="What caused it, for the team and the post-mortem.",
    )
    fix_summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=NARRATIVE_MAX_LENGTH,
        label="What fixed it",
        help_text="In words the customer can read: resolution messages use it.",
    )
    verification = forms.MultipleChoiceField(
        choices=ResolutionVerification.choices,
        widget=forms.CheckboxSelectMultiple,
        label="How it was verified",
    )
    verification_note = forms.CharField(
        required=False,
        max_length=500,
        label="Verification details",
        widget=forms.TextInput(
            attrs={"placeholder": "e.g. eSIM shows active; no errors for 2 hours"}
        ),
    )
    customer_summary = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=NARRATIVE_MAX_LENGTH,
        label="What went wrong, as the customer reads it now it is fixed",
        help_text="The resolution e-mail quotes it under “What was wrong”: put it "
        "in the past tense (“Live vehicle positions were not showing”).",
    )
    version = PageVersionField()

    def __init__(self, *args, first_written: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if first_written:
            # Shown, not pre-filled: the words written while it was broken
            # are in the present tense, and the e-mail would print them as is.
            field = self.fields["customer_summary"]
            # Crispy prints help text as HTML: the customer's words are escaped.
            field.help_text = format_html(
                "{} While it was open it read: “{}”", field.help_text, first_written
            )
            field.widget.attrs["placeholder"] = first_written
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Field("root_cause"),
            Field("fix_summary"),
            Field("verification"),
            Field("verification_note"),
            Field("customer_summary"),
            Field("version"),
        )

    @classmethod
    def for_incident(cls, incident: Incident, data=None) -> "ResolveForm":
        # Once resolved (then reopened), the summary was already reworded for
        # the fixed e-mail: offer it again as written.
        reworded = incident.timeline_events.filter(
            kind=TimelineEvent.Kind.RESOLUTION_RECORDED
        ).exists()
        return cls(
            data,
            initial={
                "root_cause": incident.root_cause,
                "fix_summary": incident.fix_summary,
                "customer_summary": incident.customer_summary if reworded else "",
                "version": incident.version,
            },
            first_written="" if reworded else incident.customer_summary,
        )


class ChecklistTickForm(PortalForm):
    note = forms.CharField(required=False, max_length=300)


class ChecklistNotApplicableForm(PortalForm):
    reason = forms.CharField(
        max_length=300,
        error_messages={"required": "Say why the item does not apply."},
    )


class CloseForm(PortalForm):
    note = forms.CharField(required=False, max_length=500)
    version = PageVersionField()


class RecurrenceForm(PortalForm):
    note = forms.CharField(required=False, max_length=500)
    version = PageVersionField()
