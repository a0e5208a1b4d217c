"""The public's forms: subscribing to a status page by e-mail."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Field, Layout, Submit
from django import forms
from django.urls import reverse

from portal.forms import BoundedKeysMultipleChoiceField, PortalForm

from .models import StatusPage


class SubscribeForm(PortalForm):
    """An address and, optionally, the components to hear about.

    The public status page includes it (``_subscribe_form.html``) as
    ``subscribe_form``, built with ``SubscribeForm(page=page)``.
    """

    email = forms.EmailField(
        max_length=254,
        label="E-mail address",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    components = BoundedKeysMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Only these components",
        help_text="Tick none to hear about every component.",
    )

    def __init__(self, *args, page: StatusPage, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["components"].queryset = page.components.filter(
            is_active=True
        ).order_by("position", "name")
        self.helper = FormHelper()
        self.helper.form_action = reverse("statuspage:subscribe", args=[page.slug])
        self.helper.form_class = "subscribe-form"
        self.helper.layout = Layout(
            Field("email"),
            Field("components"),
            Submit("subscribe", "Subscribe"),
        )
        if not self.fields["components"].queryset.exists():
            # A page without components: nothing to choose.
            del self.fields["components"]
            self.helper.layout = Layout(
                Field("email"), Submit("subscribe", "Subscribe")
            )

    def clean_email(self) -> str:
        # One subscription per address: Jane@Example.com is jane@example.com.
        return self.cleaned_data["email"].strip().lower()
