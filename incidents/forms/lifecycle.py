"""The incident page's sidebar forms: move, reopen, assign, first response,
affected customers, actions, and a person's time zone."""

import zoneinfo

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Field, Layout, Submit
from django import forms
from django.forms.renderers import Jinja2 as Jinja2Renderer

from portal.forms import (
    PageVersionField,
    PortalForm,
)

from .. import selectors
from ..lifecycle import allowed_moves
from ..models import (
    Incident,
)
from .intake import DATETIME_WIDGET, CustomerField, StaffChoiceField

# Renders widgets with Django's Jinja2 widget templates: the same HTML as the
# Django ones, several times faster. For forms on hot pages; one instance, so
# the templates compile once. (Not the project-wide FORM_RENDERER: admin
# widgets exist as Django templates only.)
JINJA2_WIDGETS = Jinja2Renderer()


class TakeForm(PortalForm):
    """Assign to me: the version the page showed, and where to go back to."""

    version = PageVersionField()
    next = forms.CharField(required=False, max_length=200)


class SidebarForm(PortalForm):
    """A small form of the incident page's sidebar.

    Rendered by templates/incidents/_sidebar_form.jinja rather than crispy:
    five crispy forms cost about 7 ms on every incident page.
    """

    default_renderer = JINJA2_WIDGETS

    def __init__(self, *args, incident: Incident | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select form-select-sm")
            elif not isinstance(widget, forms.HiddenInput):
                widget.attrs.setdefault("class", "form-control form-control-sm")


class MoveForm(SidebarForm):
    to_status = forms.ChoiceField(choices=Incident.Status.choices, label="Move to")
    note = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "Why (optional)"}),
    )
    version = PageVersionField()

    def __init__(self, *args, incident: Incident, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_status"].choices = [
            (s, Incident.Status(s).label) for s in allowed_moves(incident.status)
        ] or Incident.Status.choices


class ReopenForm(SidebarForm):
    reason = forms.CharField(max_length=500, label="Why reopen?")
    version = PageVersionField()


class AssignForm(SidebarForm):
    owner = StaffChoiceField(
        queryset=selectors.assignable_staff(),
        required=False,
        empty_label="Unassigned — needs pickup",
    )
    version = PageVersionField()


class WarRoomForm(SidebarForm):
    call_url = forms.URLField(
        label="Call link",
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://…"}),
    )
    commander = StaffChoiceField(
        queryset=selectors.assignable_staff(),
        required=False,
        label="Incident commander",
        empty_label="Not named yet",
    )
    version = PageVersionField()


class FirstResponseForm(SidebarForm):
    responded_at = forms.DateTimeField(
        widget=DATETIME_WIDGET,
        required=False,
        label="Replied at",
        help_text="Empty means now.",
    )
    channel = forms.CharField(
        max_length=60,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Phone, e-mail, chat…"}),
    )


class AffectedCustomerForm(SidebarForm):
    customer = CustomerField()
    status_before = forms.CharField(
        max_length=100, required=False, label="Their status before"
    )


class ImmediateActionForm(SidebarForm):
    who = forms.CharField(max_length=100)
    what = forms.CharField(max_length=300)
    due_at = forms.DateTimeField(
        widget=DATETIME_WIDGET, required=False, label="By when"
    )


class TimeZoneForm(PortalForm):
    time_zone = forms.ChoiceField(
        help_text="Every time in the portal is shown in this zone."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [
            (name, name) for name in sorted(zoneinfo.available_timezones())
        ]
        self.helper = FormHelper()
        self.helper.layout = Layout(Field("time_zone"), Submit("save", "Save"))
