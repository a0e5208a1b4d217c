"""Security response forms: flagging, notifications, regulatory clocks, Legal."""

from django import forms

from portal.forms import (
    NARRATIVE_MAX_LENGTH,
    BoundedKeysMultipleChoiceField,
    PortalForm,
)

from ..models import (
    RegulatoryRegime,
    SecurityIncidentType,
)
from .lifecycle import SidebarForm


class SecurityFlagForm(SidebarForm):
    incident_type = forms.ChoiceField(
        choices=SecurityIncidentType.choices, label="Kind of security incident"
    )


class SecurityNotifyForm(SidebarForm):
    how = forms.CharField(
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Phone, e-mail, page…"}),
    )


class RegulatoryClocksForm(PortalForm):
    regimes = BoundedKeysMultipleChoiceField(
        queryset=RegulatoryRegime.objects.filter(is_active=True),
        widget=forms.CheckboxSelectMultiple,
        label="Laws that apply",
        required=False,
    )


class RegulatoryNoticeForm(SidebarForm):
    reference = forms.CharField(
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Filing or case number"}),
    )


class LegalApprovalForm(SidebarForm):
    approver = forms.CharField(max_length=120, label="Approved by (Legal)")
    note = forms.CharField(
        max_length=2_000,
        required=False,
        label="Who is told, by when, what may be said",
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class SecurityReportForm(PortalForm):
    """The written security incident report (fleet playbook, step 3)."""

    attack_vectors = forms.CharField(
        required=False,
        max_length=NARRATIVE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Attack vectors",
        help_text="How the attacker got in, and what they used.",
    )
    data_accessed = forms.CharField(
        required=False,
        max_length=NARRATIVE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Data accessed",
        help_text="Which data was reached, whose, and whether it left our systems.",
    )
    actions_taken = forms.CharField(
        required=False,
        max_length=NARRATIVE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Response actions taken",
        help_text="What the team did to contain, fix and recover.",
    )
    # When the report the page showed was written (empty: never): two people
    # writing it at once must not overwrite each other unseen.
    shown_written_at = forms.CharField(
        required=False, max_length=40, widget=forms.HiddenInput
    )
