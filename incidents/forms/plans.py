"""Communication plan forms: the plan's details, rows, notes and review."""

from django import forms

from portal.forms import (
    PortalForm,
)

from .. import selectors
from ..models import (
    PlanReviewCycle,
    PlanRowStatus,
)
from .intake import StaffChoiceField
from .lifecycle import SidebarForm
from .postmortems import DATE_WIDGET


class PlanMetadataForm(SidebarForm):
    category = forms.CharField(max_length=100)
    owner = StaffChoiceField(queryset=selectors.assignable_staff(), required=False)
    effective_on = forms.DateField(
        widget=DATE_WIDGET, required=False, label="Effective date"
    )
    review_cycle = forms.ChoiceField(choices=PlanReviewCycle.choices)


class PlanRowForm(PortalForm):
    item = forms.CharField(max_length=200)
    details = forms.CharField(max_length=500, required=False)
    owner = forms.CharField(max_length=120, required=False)
    due_on = forms.DateField(widget=DATE_WIDGET, required=False, label="Date")
    status = forms.ChoiceField(choices=PlanRowStatus.choices, initial="open")


class PlanNotesForm(PortalForm):
    notes = forms.CharField(
        required=False, max_length=5_000, widget=forms.Textarea(attrs={"rows": 2})
    )


class PlanReturnForm(PortalForm):
    reason = forms.CharField(max_length=500, label="What needs changing")
