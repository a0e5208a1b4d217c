"""The form staff post to a status page with, from the incident."""

from django import forms

from portal.forms import BoundedKeysMultipleChoiceField, PortalForm

from .models import Component, Impact, PublicStatus

OPEN_STATUSES = [
    (s.value, s.label)
    for s in (
        PublicStatus.INVESTIGATING,
        PublicStatus.IDENTIFIED,
        PublicStatus.MONITORING,
    )
]
OUTAGE_IMPACTS = [
    (i.value, i.label)
    for i in (Impact.DEGRADED, Impact.PARTIAL_OUTAGE, Impact.MAJOR_OUTAGE)
]


class PublishForm(PortalForm):
    """One post: the public words, the components and how badly.

    The choices offered follow the incident (open: the three working
    statuses; resolved: only "Resolved"); the service decides again.
    """

    components = BoundedKeysMultipleChoiceField(
        queryset=Component.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text="Components of this page its category maps to are ticked.",
    )
    impact = forms.ChoiceField(choices=OUTAGE_IMPACTS, initial=Impact.DEGRADED)
    status = forms.ChoiceField(choices=OPEN_STATUSES, label="Public status")
    title = forms.CharField(
        max_length=200,
        help_text="What the public reads as the headline. No customer names.",
    )
    body = forms.CharField(
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Public text",
        help_text="Prefilled from what the customer is told. Everyone can read "
        "it: no names, no internal detail.",
    )

    def __init__(self, *args, components, resolved: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["components"].queryset = components
        if resolved:
            self.fields["status"].choices = [
                (PublicStatus.RESOLVED.value, PublicStatus.RESOLVED.label)
            ]
            del self.fields["impact"]
