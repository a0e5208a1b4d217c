"""The endpoint form of the admin: events picked from the known list."""

from django import forms

from portal.forms import PortalModelForm

from .models import CHANGES_REACH_WORKERS, WebhookEndpoint, WebhookEvent

_url = WebhookEndpoint._meta.get_field("url")


class WebhookEndpointForm(PortalModelForm):
    url = forms.URLField(
        label="URL",
        max_length=_url.max_length,
        assume_scheme="https",
        help_text=_url.help_text,
    )
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=f"The events posted to this endpoint. {CHANGES_REACH_WORKERS}",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "events"]
