"""The escalate form and the small forms of the queues."""

from django import forms

from incidents.forms import JINJA2_WIDGETS
from portal.forms import (
    NARRATIVE_MAX_LENGTH,
    AmountField,
    BoundedKeysMultipleChoiceField,
    PortalForm,
)

from ..models import (
    BUG_REPORT_PATHS,
    PATH_FIELDS,
    BugReport,
    Flag,
    NoteSentiment,
    Path,
    Tier,
    Urgency,
)
from ..services.routing import NOTE_FIELDS

TEXTAREA = forms.Textarea(attrs={"rows": 3})


BUG_FIELDS = (
    "title",
    "severity",
    "priority",
    "component",
    "platform",
    "device",
    "affects_version",
    "description",
    "expected",
    "actual",
    "steps",
    "frequency",
    "reproduction_rate",
    "workaround",
    "customers_affected",
    "is_business_blocked",
    "has_data_loss_risk",
    "errors",
    "logs",
    "attachments",
    "environment",
    "related_tickets",
    "labels",
    "assigned_team",
    "tracker_key",
)
BUG_REQUIRED = (
    "title",
    "severity",
    "priority",
    "description",
    "expected",
    "actual",
    "steps",
    "frequency",
)


def path_field_name(path: str, name: str) -> str:
    return f"{path}__{name}"


def _tier_label(tier: Tier) -> str:
    handles = f" — {tier.handles}" if tier.handles else ""
    return f"{tier.name}{handles}"


class EscalateForm(PortalForm):
    """One form for every path; the page shows the chosen path's fields."""

    # Some ninety widgets: Jinja2 renders them several times faster (same HTML).
    default_renderer = JINJA2_WIDGETS

    path = forms.ChoiceField(choices=[("", "— pick a path —"), *Path.choices])
    tiers = BoundedKeysMultipleChoiceField(
        queryset=Tier.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Escalate to",
        required=False,
    )
    flags = forms.MultipleChoiceField(
        choices=[c for c in Flag.choices if c[0]],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="What applies",
    )
    refund_amount = AmountField(
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=2,
        label="Refund asked for",
    )
    port_in_rejections = forms.IntegerField(
        required=False, min_value=0, max_value=99, label="Port-in rejections so far"
    )
    summary = forms.CharField(
        widget=TEXTAREA, required=False, help_text="Two or three sentences."
    )
    issue_category = forms.CharField(max_length=60, required=False, label="Category")
    first_reported_on = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    related_tickets = forms.CharField(max_length=200, required=False)
    customer_wants = forms.CharField(
        widget=TEXTAREA, required=False, label="What the customer wants"
    )
    tried = forms.CharField(
        widget=TEXTAREA,
        required=False,
        label="What was tried",
        help_text="One step per line: step → result.",
    )
    why = forms.CharField(widget=TEXTAREA, required=False, label="Why escalate")
    recommended_resolution = forms.CharField(widget=TEXTAREA, required=False)
    urgency = forms.ChoiceField(choices=Urgency.choices, initial=Urgency.MEDIUM)
    sentiment = forms.ChoiceField(
        choices=NoteSentiment.choices, initial=NoteSentiment.NEUTRAL
    )
    file_bug_report = forms.BooleanField(
        required=False, label="File a bug report with this escalation"
    )

    def __init__(self, *args, incident, checks, **kwargs):
        super().__init__(*args, **kwargs)
        self.incident = incident
        self.fields["sentiment"].initial = incident.sentiment
        self.fields["tiers"].queryset = Tier.objects.filter(
            policy_id=incident.policy_id, is_active=True
        )
        self.fields["tiers"].label_from_instance = _tier_label
        self.path_field_names: dict[str, list[str]] = {}
        for path, specs in PATH_FIELDS.items():
            names = []
            for spec in specs:
                name = path_field_name(path, spec.name)
                if spec.choices:
                    field = forms.ChoiceField(
                        choices=[("", "—"), *((c, c) for c in spec.choices)],
                        required=False,
                    )
                elif spec.is_long:
                    field = forms.CharField(
                        widget=TEXTAREA,
                        required=False,
                        max_length=NARRATIVE_MAX_LENGTH,
                    )
                else:
                    field = forms.CharField(max_length=200, required=False)
                field.label = spec.label + (" *" if spec.required else "")
                field.widget.attrs["data-path"] = path
                self.fields[name] = field
                names.append(name)
            self.path_field_names[path] = names
        self.checks = list(checks)
        for check in self.checks:
            self.fields[f"check_{check.pk}"] = forms.BooleanField(
                required=False, label=check.text
            )
            self.fields[f"why_not_{check.pk}"] = forms.CharField(
                required=False, max_length=300, label="Or why not"
            )
        bug_form = forms.models.fields_for_model(BugReport, fields=BUG_FIELDS)
        for name, field in bug_form.items():
            field.required = False
            if isinstance(field.widget, forms.Textarea):
                field.widget.attrs["rows"] = 3  # the whole section fits a screen
            self.fields[f"bug_{name}"] = field
        self.bug_field_names = [f"bug_{name}" for name in BUG_FIELDS]
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select form-select-sm")
            else:
                widget.attrs.setdefault("class", "form-control form-control-sm")

    def check_rows(self):
        """Return (check, confirm field, why-not field) for the template."""
        return [
            (check, self[f"check_{check.pk}"], self[f"why_not_{check.pk}"])
            for check in self.checks
        ]

    def path_sections(self):
        return [
            (path, label, [self[n] for n in self.path_field_names[path]])
            for path, label in Path.choices
        ]

    def bug_fields(self):
        return [self[name] for name in self.bug_field_names]

    def clean(self):
        data = super().clean()
        if (
            data.get("file_bug_report")
            and data.get("path")
            and data["path"] not in BUG_REPORT_PATHS
        ):
            self.add_error(
                "file_bug_report",
                "A bug report goes with an Engineering or Tier 3 escalation.",
            )
        if data.get("file_bug_report"):
            for name in BUG_REQUIRED:
                if data.get(f"bug_{name}") in (None, ""):
                    self.add_error(f"bug_{name}", "Needed for the bug report.")
        return data

    def service_arguments(self) -> dict:
        """Return the cleaned input as request_escalation's arguments."""
        data = self.cleaned_data
        path = data["path"]
        checks: dict[int, str | bool] = {}
        for check in self.checks:
            if data.get(f"check_{check.pk}"):
                checks[check.pk] = True
            else:
                checks[check.pk] = data.get(f"why_not_{check.pk}") or ""
        bug_report = None
        if data.get("file_bug_report"):
            bug_report = {
                name: data[f"bug_{name}"]
                for name in BUG_FIELDS
                if data.get(f"bug_{name}") not in (None, "")
            }
        return {
            "path": path,
            "tiers": list(data.get("tiers") or []),
            "flags": data.get("flags") or [],
            "refund_amount": data.get("refund_amount"),
            "port_in_rejections": data.get("port_in_rejections") or 0,
            "note": {
                name: data.get(name)
                for name in NOTE_FIELDS
                if data.get(name) is not None
            },
            "path_details": {
                spec.name: data.get(path_field_name(path, spec.name)) or ""
                for spec in PATH_FIELDS[path]
            },
            "checks": checks,
            "bug_report": bug_report,
        }


class ReasonForm(PortalForm):
    reason = forms.CharField(max_length=1000)


class OutcomeForm(PortalForm):
    outcome = forms.CharField(max_length=1000, required=False)


class TrackerKeyForm(PortalForm):
    tracker_key = forms.CharField(max_length=20)


class QueueFilterForm(PortalForm):
    urgency = forms.ChoiceField(
        choices=[("", "Any urgency"), *Urgency.choices], required=False
    )
