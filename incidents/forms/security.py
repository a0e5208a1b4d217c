"""Security response forms: flagging, notifications, regulatory clocks, Legal."""

from django import forms

from portal.forms import (
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
