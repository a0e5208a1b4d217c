"""The incident form (opening and editing) and the list's filters."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Fieldset, Layout, Row, Submit
from django import forms
from django.db.models import Q

from portal.forms import (
    NARRATIVE_MAX_LENGTH,
    AmountField,
    BoundedKeysMultipleChoiceField,
    ParsedTextField,
    PortalForm,
)

from .. import selectors
from ..models import (
    Category,
    Customer,
    Incident,
    JourneyMilestone,
    Priority,
    SeverityCriterion,
    Signal,
)
from ..services import EDITABLE_FIELDS, TAG_SCHEME, policy_for
from ..sla import CLOCK_STATE_LABELS

DATETIME_WIDGET = forms.DateTimeInput(
    attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
)


IMMEDIATE_ACTION_ROWS = 3


YES_NO_UNKNOWN = [("", "Unknown"), ("true", "Yes"), ("false", "No")]


def _col(name: str, width: int = 6) -> Div:
    return Div(Field(name), css_class=f"col-md-{width}")


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.get_username()


class CustomerField(ParsedTextField):
    """A customer picked by account id, e-mail or exact name; the page
    suggests matches as you type.

    A text box instead of a select: a select of 100,000 customers would be
    megabytes of HTML and unusable.
    """

    # As long as the longest thing one types to find a customer: an e-mail.
    default_max_length = 254

    widget = forms.TextInput(
        attrs={
            "list": "customer-suggestions",
            "autocomplete": "off",
            "data-customer-search": "",
            "placeholder": "Type a name, e-mail or account id",
        }
    )

    def parse(self, text):
        value = text.strip()
        if not value:
            return None
        matches = selectors.customers_named_exactly(value)
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise forms.ValidationError(
                f"No customer has the name, e-mail or account id “{value}”. "
                "Pick one from the suggestions, or ask an admin to add the "
                "customer.",
                code="unknown_customer",
            )
        listed = "; ".join(
            f"{c.name} <{c.email}>, {c.account_id}"
            for c in matches[: selectors.AMBIGUOUS_LISTED]
        )
        more = " and more" if len(matches) > selectors.AMBIGUOUS_LISTED else ""
        raise forms.ValidationError(
            f"More than one customer is “{value}”: {listed}{more}. Type the "
            "account id (or a unique e-mail) of the one you mean.",
            code="ambiguous_customer",
        )

    def prepare_value(self, value):
        if isinstance(value, Customer):
            return value.account_id
        return value


class CriteriaCheckboxes(forms.CheckboxSelectMultiple):
    """Boxes that carry their priority, for the live suggestion."""

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        criterion = getattr(value, "instance", None)
        if criterion is not None:
            option["attrs"]["data-priority"] = criterion.priority
            option["attrs"]["data-text"] = criterion.text
            option["attrs"]["data-policy"] = criterion.policy_id
        return option


class IncidentForm(PortalForm):
    """The incident ticket, in the sections of the carrier playbook.

    From the carrier communication playbook, part 2A.
    """

    title = forms.CharField(
        max_length=200, help_text="One line someone scanning the list understands."
    )
    priority = forms.ChoiceField(
        choices=[("", "Choose a priority"), *Priority.choices],
        help_text="P1 critical: outage or many customers; P4 low: cosmetic or a "
        "question.",
    )
    signal = forms.ModelChoiceField(
        queryset=Signal.objects.filter(is_active=True),
        required=False,
        empty_label="Reported (no proactive signal)",
    )
    category = forms.ModelChoiceField(queryset=Category.objects.filter(is_active=True))
    detected_at = forms.DateTimeField(
        widget=DATETIME_WIDGET,
        required=False,
        help_text="When the problem was first seen. Empty means now.",
    )
    customer = CustomerField(required=False)
    is_systemic = forms.BooleanField(
        required=False,
        label="Systemic (many customers)",
        help_text="List the affected customers on the incident page afterwards.",
    )
    service_status = forms.ChoiceField(choices=Incident.ServiceStatus.choices)
    impact_started_at = forms.DateTimeField(
        widget=DATETIME_WIDGET, required=False, label="Impact started"
    )
    amount_paid = AmountField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        label="Amount paid ($)",
    )
    revenue_impact = AmountField(
        max_digits=14,
        decimal_places=2,
        min_value=0,
        required=False,
        label="Revenue impact ($)",
        help_text="Where known: revenue lost or at risk.",
    )
    is_service_delivered = forms.TypedChoiceField(
        choices=YES_NO_UNKNOWN,
        coerce=lambda v: v == "true",
        empty_value=None,
        required=False,
        label="Service delivered?",
    )
    customer_contact_count = forms.IntegerField(
        min_value=0,
        initial=0,
        label="Times the customer contacted us",
    )
    sentiment = forms.ChoiceField(choices=Incident.Sentiment.choices)
    what_happened = forms.CharField(
        max_length=NARRATIVE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Two or three plain sentences: what broke, for whom, since when.",
    )
    customer_summary = forms.CharField(
        max_length=NARRATIVE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="What the customer is told",
        help_text="The problem in words for the customer. Customer messages use "
        "this; the narrative above and the root cause stay internal.",
    )
    root_cause = forms.CharField(
        max_length=NARRATIVE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Internal. Leave empty while under investigation.",
    )
    fix_summary = forms.CharField(
        max_length=NARRATIVE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="What we did to fix it (for the customer)",
        help_text="Needed before the customer is sent a resolution message.",
    )
    is_partner_action_needed = forms.BooleanField(
        required=False, label="Partner action needed"
    )
    partner_action_details = forms.CharField(
        required=False,
        max_length=NARRATIVE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Details",
    )
    is_vendor_action_needed = forms.BooleanField(
        required=False, label="Vendor action needed"
    )
    vendor_action_details = forms.CharField(
        required=False,
        max_length=NARRATIVE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Details",
    )
    is_engineering_action_needed = forms.BooleanField(
        required=False, label="Engineering action needed"
    )
    engineering_action_details = forms.CharField(
        required=False,
        max_length=NARRATIVE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Details",
    )
    owner = StaffChoiceField(
        queryset=selectors.assignable_staff(),
        required=False,
        empty_label="Unassigned — needs pickup",
    )
    extra_tags = forms.CharField(
        required=False,
        max_length=300,
        label="Extra tags",
        help_text="Comma-separated. Standard tags (incident, severity, signal, "
        "category) are added for you.",
    )
    severity_criteria = BoundedKeysMultipleChoiceField(
        queryset=SeverityCriterion.objects.none(),
        widget=CriteriaCheckboxes,
        required=False,
        label="Signs of severity",
        help_text="Tick what applies; the portal suggests the priority they point to.",
    )
    priority_reason = forms.CharField(
        max_length=300,
        required=False,
        label="Why this priority?",
        help_text="Needed only when the priority differs from the suggestion.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, editing: Incident | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.criteria_policy = self._criteria_policy()
        # The customer's policy's criteria, plus whatever was ticked: a tick
        # made before the customer was picked is kept and refused by name (the
        # service's check), not lost as "not one of the available choices".
        self.fields["severity_criteria"].queryset = SeverityCriterion.objects.filter(
            Q(policy=self.criteria_policy) | Q(pk__in=self._ticked_criteria()),
            is_active=True,
        ).order_by("policy__name", "priority", "position", "pk")
        self.fields["severity_criteria"].help_text = (
            f"Criteria of the “{self.criteria_policy.name}” policy. "
            + self.fields["severity_criteria"].help_text
        )
        self.fields["category"].choices = self._category_choices()
        self.fields[
            "category"
        ].help_text = (
            f"The “{self.criteria_policy.name}” policy's categories come first."
        )
        journey_rows = []
        for step, label in JourneyMilestone.Step.choices:
            self.fields[f"journey_{step}_state"] = forms.ChoiceField(
                choices=JourneyMilestone.State.choices, required=False, label=label
            )
            self.fields[f"journey_{step}_at"] = forms.DateTimeField(
                widget=DATETIME_WIDGET, required=False, label="When"
            )
            journey_rows += [
                _col(f"journey_{step}_state", 3),
                _col(f"journey_{step}_at", 3),
            ]
        action_rows = []
        if editing is None:
            for n in range(1, IMMEDIATE_ACTION_ROWS + 1):
                self.fields[f"action_{n}_who"] = forms.CharField(
                    required=False, max_length=100, label="Who"
                )
                self.fields[f"action_{n}_what"] = forms.CharField(
                    required=False, max_length=300, label="What"
                )
                self.fields[f"action_{n}_due_at"] = forms.DateTimeField(
                    widget=DATETIME_WIDGET, required=False, label="By when"
                )
                action_rows.append(
                    Row(
                        _col(f"action_{n}_who", 3),
                        _col(f"action_{n}_what", 6),
                        _col(f"action_{n}_due_at", 3),
                    )
                )
        else:
            del self.fields["owner"]

        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Fieldset(
                "Summary",
                Row(_col("title", 12)),
                Row(
                    _col("priority", 3),
                    _col("category", 3),
                    _col("signal", 3),
                    _col("detected_at", 3),
                ),
                Field("severity_criteria"),
                HTML(
                    '<div id="priority-suggestion" class="alert alert-info py-1 '
                    'small d-none" role="status"></div>'
                ),
                Field("priority_reason"),
            ),
            Fieldset(
                "Customer impact",
                Row(
                    _col("customer", 6),
                    Div(Field("is_systemic"), css_class="col-md-6 pt-md-4"),
                ),
                HTML('<datalist id="customer-suggestions"></datalist>'),
                Row(
                    _col("service_status", 3),
                    _col("impact_started_at", 3),
                    _col("amount_paid", 2),
                    _col("is_service_delivered", 2),
                    _col("customer_contact_count", 2),
                ),
                Row(_col("sentiment", 3), _col("revenue_impact", 3)),
            ),
            Fieldset(
                "What happened", Field("what_happened"), Field("customer_summary")
            ),
            Fieldset("Journey snapshot", Row(*journey_rows)),
            Fieldset("Root cause and fix", Field("root_cause"), Field("fix_summary")),
            *(
                [Fieldset("Immediate actions (who, what, by when)", *action_rows)]
                if action_rows
                else []
            ),
            Fieldset(
                "Dependencies",
                Row(
                    _col("is_partner_action_needed", 4),
                    _col("is_vendor_action_needed", 4),
                    _col("is_engineering_action_needed", 4),
                ),
                Row(
                    _col("partner_action_details", 4),
                    _col("vendor_action_details", 4),
                    _col("engineering_action_details", 4),
                ),
            ),
            Fieldset(
                "Ownership and tags",
                Row(
                    *([_col("owner", 6)] if "owner" in self.fields else []),
                    _col("extra_tags", 6),
                ),
            ),
            Field("version"),
            Submit(
                "save", "Save changes" if editing else "Open incident", css_class="mt-2"
            ),
        )

    def _category_choices(self) -> list:
        """The policy's own categories first; the others only for a customer
        picked after the page was drawn (the service refuses a mismatch)."""
        policy = self.criteria_policy
        own = list(selectors.categories_offered(policy).values_list("pk", "name"))
        others = list(
            Category.objects.filter(is_active=True)
            .exclude(pk__in=[pk for pk, _ in own])
            .values_list("pk", "name")
        )
        choices = [("", "Choose a category"), (f"{policy.name} policy", own)]
        if others:
            choices.append(("Other policies", others))
        return choices

    def _ticked_criteria(self) -> list[int]:
        if not self.is_bound:
            return []
        values = (
            self.data.getlist("severity_criteria")
            if hasattr(self.data, "getlist")
            else self.data.get("severity_criteria") or []
        )
        return [int(v) for v in values[:50] if str(v).isascii() and str(v).isdigit()]

    def _criteria_policy(self):
        """Return the policy whose criteria apply: the customer's, else default."""
        account_id = self.data.get("customer", "") if self.is_bound else ""
        if account_id and "\x00" not in account_id:
            customer = (
                Customer.objects.select_related("policy")
                .filter(account_id=account_id.strip()[:64])
                .first()
            )
            if customer is not None:
                return policy_for(customer)
        if self.editing is not None:
            return self.editing.policy
        return policy_for(None)

    def clean_extra_tags(self):
        raw = self.cleaned_data["extra_tags"]
        return [
            t.strip().lower().replace(" ", "_") for t in raw.split(",") if t.strip()
        ]

    def clean(self):
        data = super().clean()
        if self.editing is not None and not data.get("version"):
            # The two-editors guard needs the version the page showed.
            self.add_error(None, "This page was incomplete; reload it and try again.")
        for n in range(1, IMMEDIATE_ACTION_ROWS + 1):
            who, what = data.get(f"action_{n}_who"), data.get(f"action_{n}_what")
            if who and not what:
                self.add_error(f"action_{n}_what", "Say what must be done.")
            if what and not who:
                self.add_error(f"action_{n}_who", "Say who does it.")
        return data

    def incident_fields(self) -> dict:
        data = self.cleaned_data
        fields = {name: data[name] for name in EDITABLE_FIELDS if name != "detected_at"}
        # An empty detection time means "now" when opening; when editing it
        # means "leave it as it was".
        if data.get("detected_at") or self.editing is None:
            fields["detected_at"] = data.get("detected_at")
        return fields

    def immediate_actions(self) -> list[dict]:
        data = self.cleaned_data
        return [
            {
                "who": data[f"action_{n}_who"],
                "what": data[f"action_{n}_what"],
                "due_at": data[f"action_{n}_due_at"],
            }
            for n in range(1, IMMEDIATE_ACTION_ROWS + 1)
            if data.get(f"action_{n}_who")
        ]

    def journey(self) -> dict:
        data = self.cleaned_data
        return {
            step: {
                "state": data[f"journey_{step}_state"],
                "happened_at": data[f"journey_{step}_at"],
            }
            for step in JourneyMilestone.Step.values
        }

    @staticmethod
    def initial_for(incident: Incident, custom_tags: list[str]) -> dict:
        initial = {name: getattr(incident, name) for name in EDITABLE_FIELDS}
        delivered = incident.is_service_delivered
        initial["is_service_delivered"] = (
            "" if delivered is None else str(delivered).lower()
        )
        initial["extra_tags"] = ", ".join(custom_tags)
        initial["severity_criteria"] = list(incident.severity_criteria.all())
        initial["version"] = incident.version
        for milestone in incident.journey_milestones.all():
            initial[f"journey_{milestone.step}_state"] = milestone.state
            initial[f"journey_{milestone.step}_at"] = milestone.happened_at
        return initial


class IncidentFilterForm(PortalForm):
    """The list page's filters; every field optional, bad values ignored."""

    q = forms.CharField(
        required=False,
        label="Search",
        widget=forms.TextInput(
            attrs={
                "placeholder": "INC-00042, title, customer name or e-mail",
                "type": "search",
            }
        ),
    )
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any status"),
            ("open", "Open (not closed)"),
            *Incident.Status.choices,
        ],
    )
    priority = forms.ChoiceField(
        required=False, choices=[("", "Any priority"), *Priority.choices]
    )
    owner = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    category = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Category"
    )
    sla = forms.ChoiceField(
        required=False,
        label="SLA",
        choices=[
            ("", "Any SLA state"),
            *((state.value, label) for state, label in CLOCK_STATE_LABELS.items()),
        ],
    )
    tag = forms.ChoiceField(required=False, label="Tag")
    archived = forms.BooleanField(
        required=False,
        label="Include archived",
        help_text="Closed incidents leave the list once their policy's archive "
        "delay has passed.",
    )
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("newest", "Newest first"),
            ("oldest", "Oldest first"),
            ("priority", "Priority"),
            ("resolution_due", "Resolution due"),
            ("updated", "Recently updated"),
        ],
    )

    def __init__(self, *args, viewer, staff, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [
            ("", "Anyone"),
            (viewer.pk, "Mine"),
            (-1, "Unassigned"),
            *((u.pk, u.get_full_name() or u.get_username()) for u in staff),
        ]
        # A plain list, so rendering the options costs one query, not a
        # count and a fetch.
        self.fields["category"].choices = [
            ("", "Any category"),
            *Category.objects.values_list("id", "name"),
        ]
        self.fields["tag"].choices = [
            ("", "Any tag"),
            *((tag, tag) for tag in sorted(TAG_SCHEME)),
        ]
        for name, field in self.fields.items():
            if name == "archived":
                field.widget.attrs["class"] = "form-check-input"
                continue
            css = "form-control" if name == "q" else "form-select"
            field.widget.attrs["class"] = f"{css} form-control-sm"

    def filters(self) -> selectors.IncidentFilters:
        data = {}
        if self.is_bound:
            self.is_valid()  # a bad value drops its own filter, not the others
            data = self.cleaned_data
        return selectors.IncidentFilters(
            status=data.get("status") or "",
            priority=data.get("priority") or "",
            owner_id=data.get("owner"),
            category_id=data.get("category"),
            sla_state=data.get("sla") or "",
            tag=data.get("tag") or "",
            search=data.get("q") or "",
            sort=data.get("sort") or "newest",
            include_archived=bool(data.get("archived")),
        )
