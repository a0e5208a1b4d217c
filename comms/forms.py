from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Layout, Row, Submit
from django import forms

from incidents.forms import DATETIME_WIDGET, JINJA2_WIDGETS
from portal.forms import MESSAGE_MAX_LENGTH, ParsedTextField, PortalForm

from .models import Audience, Channel, ExternalParty, Reply, Situation, Stage


def _col(name: str, width: int) -> Div:
    return Div(Field(name), css_class=f"col-md-{width}")


class RecipientsField(ParsedTextField):
    """Comma- or line-separated addresses (or one chat channel)."""

    # Some fifty addresses: more than any incident has been sent to.
    default_max_length = 5_000

    def parse(self, text):
        return [
            part.strip() for part in text.replace("\n", ",").split(",") if part.strip()
        ]

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value


class ComposeForm(PortalForm):
    default_renderer = JINJA2_WIDGETS  # same HTML; the compose page is hot
    message = forms.IntegerField(widget=forms.HiddenInput, required=False)
    template_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    audience = forms.ChoiceField(choices=Audience.choices)
    channel = forms.ChoiceField(
        # Status page posts have their own card on the incident.
        choices=[c for c in Channel.choices if c[0] != Channel.STATUS_PAGE]
    )
    stage = forms.ChoiceField(choices=Stage.choices)
    situation = forms.ChoiceField(choices=Situation.choices, required=False)
    follow_up_number = forms.IntegerField(
        min_value=1, max_value=99, required=False, label="Follow-up #"
    )
    party = forms.ModelChoiceField(
        queryset=ExternalParty.objects.filter(is_active=True),
        required=False,
        label="Partner or vendor",
        empty_label="—",
    )
    recipients = RecipientsField(
        required=False,
        help_text="E-mail addresses separated by commas, or the chat channel.",
    )
    subject = forms.CharField(max_length=300, required=False)
    body = forms.CharField(
        max_length=MESSAGE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 14})
    )
    send_after = forms.DateTimeField(
        widget=DATETIME_WIDGET,
        required=False,
        label="Send at (optional)",
        help_text="Leave empty to send now.",
    )

    override_reason = forms.CharField(
        max_length=500,
        required=False,
        label="Send during the security hold because…",
        help_text="Legal has not yet approved telling customers. A manager may "
        "send a customer message anyway, with the reason; it is recorded.",
    )

    say_it_anyway = forms.BooleanField(
        required=False,
        label="Send it as written: I mean these words",
    )

    def __init__(
        self, *args, security_hold: bool = False, asks_about_phrases=False, **kwargs
    ):
        super().__init__(*args, **kwargs)
        if not security_hold:
            del self.fields["override_reason"]
        if not asks_about_phrases:
            del self.fields["say_it_anyway"]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Row(
                _col("audience", 2),
                _col("channel", 2),
                _col("stage", 2),
                _col("situation", 3),
                _col("follow_up_number", 1),
                _col("party", 2),
            ),
            Field("recipients"),
            Field("subject"),
            Field("body"),
            Row(_col("send_after", 4)),
            *([Field("override_reason")] if security_hold else []),
            *([Field("say_it_anyway")] if asks_about_phrases else []),
            Field("template_version"),
            Field("message"),
            # Plain buttons: crispy's Submit always adds btn-primary, which made
            # the outlined "Save draft" look disabled.
            HTML(
                '<div class="d-flex gap-2">'
                '<button type="submit" name="action" value="Send" '
                'class="btn btn-primary">Send</button>'
                '<button type="submit" name="action" value="Save draft" '
                'class="btn btn-outline-secondary">Save draft</button></div>'
            ),
        )

    def message_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "audience": data["audience"],
            "channel": data["channel"],
            "stage": data["stage"],
            "situation": data.get("situation") or "",
            "follow_up_number": data.get("follow_up_number"),
            "party": data.get("party"),
            "recipients": data["recipients"],
            "subject": data.get("subject") or "",
            "body": data["body"],
            "send_after": data.get("send_after"),
        }


class _SenderFields(PortalForm):
    """Who wrote a reply: a customer, or one of the partners and vendors."""

    sender_kind = forms.ChoiceField(choices=Reply.From.choices, label="From")
    party = forms.ModelChoiceField(
        queryset=ExternalParty.objects.filter(is_active=True),
        required=False,
        label="Partner or vendor",
        empty_label="—",
    )


class ReplyForm(_SenderFields):
    default_renderer = JINJA2_WIDGETS  # same HTML; on every messages page
    sender_name = forms.CharField(max_length=120, required=False, label="Name")
    kind = forms.ChoiceField(choices=Reply.Kind.choices)
    text = forms.CharField(
        max_length=MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="What they said",
    )
    received_at = forms.DateTimeField(
        widget=DATETIME_WIDGET,
        required=False,
        label="Received",
        help_text="Empty means now.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        # The page writes the <form> tag, with its action and token.
        self.helper.form_tag = False
        self.helper.layout = Layout(
            # Two to a row: the form sits in the page's narrow side column.
            Row(_col("sender_kind", 6), _col("kind", 6)),
            Row(_col("party", 6), _col("sender_name", 6)),
            Field("text"),
            Field("received_at"),
            Submit("log", "Log reply", css_class="btn-sm"),
        )


class ApprovalForm(PortalForm):
    subject = forms.CharField(max_length=300, required=False)
    override_reason = forms.CharField(
        max_length=500,
        required=False,
        label="Approve during the security hold because…",
    )
    # Not stripped: the service compares it with the stored text to tell an
    # edit from an untouched approval (it also normalises line endings).
    body = forms.CharField(
        max_length=MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8}),
        strip=False,
    )


class RejectionForm(PortalForm):
    reason = forms.CharField(max_length=300)


# --- Automation: triage of unmatched e-mail ---


class AttachMailForm(_SenderFields):
    incident = forms.CharField(
        max_length=20,
        label="Incident",
        help_text="Its reference (INC-00042) or number.",
    )

    def clean_incident(self):
        text = self.cleaned_data["incident"].strip().upper().removeprefix("INC-")
        if not text.isdigit():
            raise forms.ValidationError(
                "Give the incident's reference, e.g. INC-00042.", code="bad_reference"
            )
        return int(text)


class DismissMailForm(PortalForm):
    note = forms.CharField(max_length=300, label="Why set it aside")


class PartyTicketForm(PortalForm):
    ticket_id = forms.CharField(
        max_length=80,
        required=False,
        label="Their ticket number",
        help_text="Quoted in each follow-up and escalation to them; leave "
        "empty to stop quoting one.",
    )
