import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "“%(zone)s” is not a known time zone, e.g. Europe/Berlin.",
            code="unknown_time_zone",
            params={"zone": value},
        ) from None


WEEKDAYS_VALIDATOR = RegexValidator(
    r"^(?!.*(.).*\1)[1-7]{1,7}$",
    "List ISO weekday numbers once each, e.g. 12345 for Monday to Friday.",
)


class BusinessCalendar(models.Model):
    """Working days and holidays that business-day SLA targets count."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Business days begin and end at midnight in this zone.",
    )
    working_weekdays = models.CharField(
        max_length=7,
        default="12345",
        validators=[WEEKDAYS_VALIDATOR],
        help_text="ISO weekday numbers that are working days: 1 = Monday … "
        "7 = Sunday. 12345 means Monday to Friday.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Holiday(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    falls_on = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["falls_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["calendar", "falls_on"],
                name="%(app_label)s_%(class)s_one_per_day",
            )
        ]

    def __str__(self):
        return f"{self.falls_on:%Y-%m-%d} {self.name}"


class Priority(models.TextChoices):
    P1 = "P1", "P1 · Critical"
    P2 = "P2", "P2 · High"
    P3 = "P3", "P3 · Medium"
    P4 = "P4", "P4 · Low"


class Segment(models.TextChoices):
    ENTERPRISE = "enterprise", "Enterprise"
    STANDARD = "standard", "Standard"
    TRIAL = "trial", "Trial / free tier"


class Policy(models.Model):
    """A set of SLA targets an organisation promises, one row per priority.

    Edits apply to incidents opened, re-prioritised or moved to another
    customer afterwards; deadlines already stamped stay as promised.
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(
        default=False,
        help_text="Applies to customers that have no policy of their own. "
        "Exactly one policy is the default.",
    )
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        related_name="policies",
        help_text="Counts business-day targets.",
    )
    enterprise_response_factor = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default=1,
        help_text="Multiplies the first-response target for enterprise customers "
        "(0.5 = half the time; 1 = no change).",
    )
    standard_response_factor = models.DecimalField(
        max_digits=4, decimal_places=2, default=1
    )
    trial_response_factor = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default=1,
        help_text="2 = twice the time for trial and free-tier customers; "
        "1 = no change.",
    )
    language_standards = models.TextField(
        blank=True,
        help_text="How every message under this policy should read, one rule "
        "per line; the composer shows it beside the text.",
    )
    post_incident_tone = models.CharField(
        max_length=200,
        blank=True,
        help_text="The tone of post-incident follow-ups, shown in the composer.",
    )
    at_risk_minutes = models.PositiveIntegerField(
        default=120,
        help_text="A running deadline closer than this is shown as at risk, "
        "unless its target sets its own window. A target shorter than twice "
        "this is at risk for its second half only.",
    )
    # Automation (issue 14): replies by e-mail and monitoring signals.
    confirmation_keywords = models.TextField(
        blank=True,
        help_text="Words in a customer's e-mailed reply that count as "
        "confirming the fix, one per line (e.g. it works, all good). Empty: "
        "a person always ticks “customer confirmed” after reading the reply.",
    )
    systemic_threshold = models.PositiveIntegerField(
        default=10,
        help_text="A monitoring signal affecting more customers than this "
        "opens (or turns) its incident into a systemic one.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="%(app_label)s_%(class)s_single_default",
                violation_error_message="Another policy is already the default; "
                "untick it there first.",
            ),
            models.CheckConstraint(
                condition=Q(enterprise_response_factor__gt=0)
                & Q(standard_response_factor__gt=0)
                & Q(trial_response_factor__gt=0),
                name="%(app_label)s_%(class)s_positive_factors",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        # Unticking the only default would leave customers without a
        # policy and make every new incident fail; the default moves instead
        # (incidents.services.choose_default_policy).
        if (
            self.pk
            and not self.is_default
            and Policy.objects.filter(pk=self.pk, is_default=True).exists()
            and not Policy.objects.filter(is_default=True).exclude(pk=self.pk).exists()
        ):
            raise ValidationError(
                {
                    "is_default": ValidationError(
                        "This is the default policy and customers without a "
                        "policy of their own use it. Make another policy the "
                        "default instead.",
                        code="default_required",
                    )
                }
            )

    def response_factor(self, segment: str):
        return {
            Segment.ENTERPRISE: self.enterprise_response_factor,
            Segment.STANDARD: self.standard_response_factor,
            Segment.TRIAL: self.trial_response_factor,
        }[segment]


class PolicyTarget(models.Model):
    """What one policy promises for one priority."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(max_length=2, choices=Priority.choices)
    first_response_minutes = models.PositiveIntegerField(
        help_text="Time to the first reply to the customer, before the segment factor."
    )
    resolution_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Resolution target in clock minutes. Fill this or business days.",
    )
    resolution_business_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Resolution target in business days of the policy's calendar.",
    )
    internal_update_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How often the internal channel hears about the incident; "
        "empty means as needed.",
    )
    customer_update_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How often the customer hears from us; empty means as needed.",
    )
    partner_update_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How often partners and vendors are chased; empty means as needed.",
    )
    no_response_escalation_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Escalate when a party stays silent this long; empty means "
        "never automatically.",
    )
    manager_notify_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Notify a manager when the incident is still open after this long.",
    )
    notifies_executives = models.BooleanField(
        default=False, help_text="Executives are told as soon as it opens."
    )
    tone_guidance = models.TextField(
        blank=True,
        help_text="The tone messages at this priority should take, one point "
        "per line; the composer shows it beside the text.",
    )
    first_response_at_risk_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Show the first-response clock as at risk this long before "
        "its deadline. Empty: the policy's window, or half the target when "
        "the target is shorter than twice that window.",
    )
    resolution_at_risk_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Show the resolution clock as at risk this long before its "
        "deadline. Empty: as for the first response.",
    )

    class Meta:
        ordering = ["policy", "priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "priority"],
                name="%(app_label)s_%(class)s_one_per_priority",
            ),
            models.CheckConstraint(
                condition=Q(priority__in=Priority.values),
                name="%(app_label)s_%(class)s_priority_valid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(resolution_minutes__isnull=False)
                    & Q(resolution_business_days__isnull=True)
                )
                | (
                    Q(resolution_minutes__isnull=True)
                    & Q(resolution_business_days__isnull=False)
                ),
                name="%(app_label)s_%(class)s_one_resolution_unit",
                violation_error_message="Give the resolution target either in "
                "minutes or in business days, not both.",
            ),
        ]

    def __str__(self):
        return f"{self.policy} · {self.priority}"


class SeverityCriterion(models.Model):
    """A sign that an incident deserves a priority, under one policy.

    The incident form shows the applicable policy's criteria as boxes; the
    highest priority among the ticked ones is suggested.
    """

    policy = models.ForeignKey(
        Policy, on_delete=models.CASCADE, related_name="severity_criteria"
    )
    priority = models.CharField(max_length=2, choices=Priority.choices)
    text = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["policy", "priority", "position", "id"]
        verbose_name_plural = "severity criteria"
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__in=Priority.values),
                name="%(app_label)s_%(class)s_priority_valid",
            ),
        ]

    def __str__(self):
        return f"{self.priority}: {self.text}"


class Category(models.Model):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=60, unique=True, help_text="Used in tags.")
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class Signal(models.Model):
    """A proactive detection signal (SIG-001 …) that can open an incident."""

    code = models.CharField(
        max_length=20,
        unique=True,
        validators=[RegexValidator(r"^SIG-\d{3}$", "Codes look like SIG-001.")],
    )
    description = models.CharField(max_length=200)
    # Automation (issue 14): what an incident opened by this signal gets.
    priority = models.CharField(
        max_length=2,
        choices=Priority.choices,
        default=Priority.P3,
        help_text="Priority of an incident this signal opens.",
    )
    category = models.ForeignKey(
        "Category",
        on_delete=models.PROTECT,
        related_name="signals",
        null=True,
        blank=True,
        help_text="Category of an incident this signal opens; the monitoring "
        "system may name another.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} · {self.description}"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PENDING = "pending", "Pending activation"
    SUSPENDED = "suspended", "Suspended"
    CANCELLED = "cancelled", "Cancelled"


class RelationshipStatus(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    AT_RISK = "at_risk", "At risk"
    CHURNING = "churning", "Threatening to leave"


def validate_phone(value: str) -> None:
    digits = sum(ch.isdigit() for ch in value)
    if not all(ch.isdigit() or ch in "+-() ." for ch in value) or not (
        7 <= digits <= 15
    ):
        raise ValidationError(
            "“%(value)s” is not a phone number: use 7 to 15 digits, optionally "
            "with +, spaces, dashes or brackets.",
            code="bad_phone",
            params={"value": value},
        )


def masked(value: str) -> str:
    """Return ``value`` with all but its last four characters hidden."""
    if not value:
        return ""
    return "•" * max(len(value) - 4, 4) + value[-4:]


class Customer(models.Model):
    AccountStatus = AccountStatus
    RelationshipStatus = RelationshipStatus

    name = models.CharField(max_length=200)
    email = models.EmailField()
    account_id = models.CharField(max_length=64, unique=True)
    segment = models.CharField(
        max_length=20, choices=Segment.choices, default=Segment.STANDARD
    )
    is_vip = models.BooleanField("VIP", default=False)
    customer_since_on = models.DateField("customer since", null=True, blank=True)
    account_status = models.CharField(
        max_length=20, choices=AccountStatus.choices, default=AccountStatus.ACTIVE
    )
    phone = models.CharField(
        max_length=32,
        blank=True,
        validators=[validate_phone],
        help_text="With the country code, e.g. +1 555 123 4567.",
    )
    old_carrier_account = models.CharField(
        "old carrier's account number",
        max_length=64,
        blank=True,
        help_text="Needed for number transfers. Shown masked to its last four "
        "characters, in messages always and on pages to those whose role "
        "may not see it in full.",
    )
    company = models.CharField(max_length=200, blank=True)
    package_level = models.CharField(
        max_length=80, blank=True, help_text="e.g. Enterprise, Professional, Basic."
    )
    annual_contract_value = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    contract_currency = models.CharField(
        max_length=3,
        default="USD",
        validators=[
            RegexValidator(r"^[A-Z]{3}$", "Use a three-letter code such as USD.")
        ],
    )
    relationship_status = models.CharField(
        max_length=20,
        choices=RelationshipStatus.choices,
        default=RelationshipStatus.HEALTHY,
    )
    contact_name = models.CharField(
        "contact person",
        max_length=120,
        blank=True,
        help_text="Who we write to when the customer is an organisation; "
        "greetings use this person's first name.",
    )
    contact_title = models.CharField(
        "contact's title", max_length=120, blank=True, help_text="e.g. Fleet Manager."
    )
    success_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="managed_customers",
        null=True,
        blank=True,
        verbose_name="customer success manager",
    )
    renewal_on = models.DateField("contract renewal", null=True, blank=True)
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="Times in messages to this customer are shown in this zone. "
        "Empty: the zone of the customer's policy.",
    )
    policy = models.ForeignKey(
        Policy,
        on_delete=models.PROTECT,
        related_name="customers",
        null=True,
        blank=True,
        help_text="Leave empty to use the default policy.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            # customers_matching: prefix search by name and e-mail.
            models.Index(fields=["name"], name="customer_name_idx"),
            models.Index(fields=["email"], name="customer_email_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(segment__in=Segment.values),
                name="%(app_label)s_%(class)s_segment_valid",
            ),
            models.CheckConstraint(
                condition=Q(account_status__in=AccountStatus.values),
                name="%(app_label)s_%(class)s_account_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(relationship_status__in=RelationshipStatus.values),
                name="%(app_label)s_%(class)s_relationship_status_valid",
            ),
        ]
        permissions = [
            (
                "view_full_account_numbers",
                "Can see customers' old-carrier account numbers in full",
            )
        ]

    def __str__(self):
        return f"{self.name} <{self.email}>"

    @property
    def masked_old_carrier_account(self) -> str:
        return masked(self.old_carrier_account)


class IncidentStatus(models.TextChoices):
    NEW = "new", "New"
    INVESTIGATING = "investigating", "Investigating"
    WAITING_PARTNER = "waiting_partner", "Waiting on partner"
    WAITING_VENDOR = "waiting_vendor", "Waiting on vendor"
    WAITING_CUSTOMER = "waiting_customer", "Waiting on customer"
    FIX_IN_PROGRESS = "fix_in_progress", "Fix in progress"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"
    CLOSED_PENDING = "closed_pending", "Closed (pending customer)"


class ServiceStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    NO_SERVICE = "no_service", "No service"
    DEGRADED = "degraded", "Degraded"
    PENDING_ACTIVATION = "pending_activation", "Pending activation"


class Sentiment(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    NEUTRAL = "neutral", "Neutral"
    FRUSTRATED = "frustrated", "Frustrated"
    ANGRY = "angry", "Angry"


class Incident(models.Model):
    Status = IncidentStatus
    ServiceStatus = ServiceStatus
    Sentiment = Sentiment

    CLOSED_STATUSES = (Status.CLOSED, Status.CLOSED_PENDING)
    OPEN_STATUSES = (
        Status.NEW,
        Status.INVESTIGATING,
        Status.WAITING_PARTNER,
        Status.WAITING_VENDOR,
        Status.WAITING_CUSTOMER,
        Status.FIX_IN_PROGRESS,
        Status.MONITORING,
        Status.RESOLVED,
    )

    title = models.CharField(max_length=200)
    priority = models.CharField(max_length=2, choices=Priority.choices)
    signal = models.ForeignKey(
        Signal,
        on_delete=models.PROTECT,
        related_name="incidents",
        null=True,
        blank=True,
        help_text="The proactive signal that detected it; empty when reported.",
    )
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="incidents"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        related_name="incidents",
        null=True,
        blank=True,
    )
    is_systemic = models.BooleanField(
        default=False, help_text="Affects many customers at once."
    )
    what_happened = models.TextField()
    customer_summary = models.TextField(
        blank=True,
        help_text="What the customer is told about the problem, in plain words. "
        "Customer messages use this, never the internal narrative.",
    )
    fix_summary = models.TextField(
        blank=True,
        help_text="What was done to fix it, in words the customer can read. "
        "Needed before a resolution message goes to the customer.",
    )
    service_status = models.CharField(
        max_length=20, choices=ServiceStatus.choices, default=ServiceStatus.ACTIVE
    )
    impact_started_at = models.DateTimeField(null=True, blank=True)
    amount_paid = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    is_service_delivered = models.BooleanField(null=True, blank=True)
    customer_contact_count = models.PositiveIntegerField(default=0)
    sentiment = models.CharField(
        max_length=20, choices=Sentiment.choices, default=Sentiment.UNKNOWN
    )
    root_cause = models.TextField(blank=True)
    severity_criteria = models.ManyToManyField(
        SeverityCriterion,
        blank=True,
        related_name="incidents",
        help_text="The signs of severity the agent ticked.",
    )
    priority_reason = models.CharField(
        max_length=300,
        blank=True,
        help_text="Why the priority differs from what the ticked criteria suggest.",
    )
    is_partner_action_needed = models.BooleanField(default=False)
    partner_action_details = models.TextField(blank=True)
    is_vendor_action_needed = models.BooleanField(default=False)
    vendor_action_details = models.TextField(blank=True)
    is_engineering_action_needed = models.BooleanField(default=False)
    engineering_action_details = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="owned_incidents",
        null=True,
        blank=True,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="created_incidents",
        null=True,
        blank=True,
        help_text="Empty when a system or signal opened it.",
    )
    policy = models.ForeignKey(
        Policy, on_delete=models.PROTECT, related_name="incidents"
    )
    detected_at = models.DateTimeField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    first_response_due_at = models.DateTimeField()
    first_response_at_risk_at = models.DateTimeField()
    resolution_due_at = models.DateTimeField()
    resolution_at_risk_at = models.DateTimeField()
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("change_incident_status", "Can move an incident through its statuses"),
            ("assign_incident", "Can change an incident's owner"),
            ("reopen_incident", "Can reopen a closed incident"),
            ("record_first_response", "Can record the first customer response"),
        ]
        indexes = [
            # incident_list: the default sort, newest first.
            models.Index(fields=["-created_at", "-id"], name="incident_created_idx"),
            # incident_list: status filter and the open/closed split.
            models.Index(fields=["status", "-created_at"], name="incident_status_idx"),
            # incident_list: "mine" and the owner filter.
            models.Index(fields=["owner", "-created_at"], name="incident_owner_idx"),
            # incident_list: priority filter.
            models.Index(
                fields=["priority", "-created_at"], name="incident_priority_idx"
            ),
            # incident_list: sort by resolution deadline and the SLA-state filter.
            models.Index(fields=["resolution_due_at"], name="incident_res_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=IncidentStatus.values),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(priority__in=Priority.values),
                name="%(app_label)s_%(class)s_priority_valid",
            ),
            models.CheckConstraint(
                condition=Q(service_status__in=ServiceStatus.values),
                name="%(app_label)s_%(class)s_service_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(sentiment__in=Sentiment.values),
                name="%(app_label)s_%(class)s_sentiment_valid",
            ),
            models.CheckConstraint(
                condition=Q(customer__isnull=False) | Q(is_systemic=True),
                name="%(app_label)s_%(class)s_customer_or_systemic",
                violation_error_message="Pick the affected customer, or mark the "
                "incident as systemic.",
            ),
            models.CheckConstraint(
                condition=Q(
                    resolved_at__isnull=False,
                    status__in=["resolved", "closed"],
                )
                | (Q(resolved_at__isnull=True) & ~Q(status__in=["resolved", "closed"])),
                name="%(app_label)s_%(class)s_resolved_at_iff_resolved",
            ),
            models.CheckConstraint(
                condition=Q(
                    closed_at__isnull=False, status__in=["closed", "closed_pending"]
                )
                | (
                    Q(closed_at__isnull=True)
                    & ~Q(status__in=["closed", "closed_pending"])
                ),
                name="%(app_label)s_%(class)s_closed_at_iff_closed",
            ),
        ]

    def __str__(self):
        return f"{self.reference} {self.title}"

    def get_absolute_url(self):
        return reverse("incidents:detail", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"INC-{self.pk:05d}" if self.pk else "INC-(new)"

    @property
    def is_open(self) -> bool:
        return self.status not in self.CLOSED_STATUSES


class AffectedCustomer(models.Model):
    """A customer hit by a systemic incident, with their before/after state."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="affected_customers"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="affected_by"
    )
    status_before = models.CharField(max_length=100, blank=True)
    status_after = models.CharField(max_length=100, blank=True)
    is_confirmed = models.BooleanField(default=False)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "customer"],
                name="%(app_label)s_%(class)s_once_per_incident",
            )
        ]

    def __str__(self):
        return f"{self.customer} in {self.incident.reference}"


class ActionItemKind(models.TextChoices):
    IMMEDIATE = "immediate", "Immediate action"
    POST_MORTEM = "post_mortem", "Post-mortem action"


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"


class ActionItem(models.Model):
    """Something someone must do by a time: immediate or post-mortem action."""

    Kind = ActionItemKind
    Status = ActionItemStatus

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="action_items"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    what = models.CharField(max_length=300)
    who = models.CharField(max_length=100)
    due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default="open")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ActionItemKind.values),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ActionItemStatus.values),
                name="%(app_label)s_%(class)s_status_valid",
            ),
        ]

    def __str__(self):
        return self.what


class JourneyMilestoneStep(models.TextChoices):
    ORDER_CREATED = "order_created", "Order created"
    PAYMENT = "payment", "Payment"
    ESIM_PROVISION = "esim_provision", "eSIM provision"
    ACTIVATION = "activation", "Activation"
    PORT_IN = "port_in", "Port-in"


class JourneyMilestoneState(models.TextChoices):
    UNKNOWN = "", "—"
    DONE = "done", "Done"
    PENDING = "pending", "Pending"
    FAILED = "failed", "Failed"
    NOT_APPLICABLE = "n/a", "Not applicable"


class JourneyMilestone(models.Model):
    """One step of the customer's journey snapshot (order, payment, …)."""

    Step = JourneyMilestoneStep
    State = JourneyMilestoneState

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="journey_milestones"
    )
    step = models.CharField(max_length=20, choices=Step.choices)
    state = models.CharField(max_length=10, choices=State.choices, blank=True)
    happened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "step"],
                name="%(app_label)s_%(class)s_one_per_step",
            ),
            models.CheckConstraint(
                condition=Q(step__in=JourneyMilestoneStep.values),
                name="%(app_label)s_%(class)s_step_valid",
            ),
        ]

    def __str__(self):
        return f"{self.get_step_display()}: {self.get_state_display()}"


class TimelineEventKind(models.TextChoices):
    OPENED = "opened", "Incident opened"
    EDITED = "edited", "Details edited"
    STATUS_CHANGED = "status_changed", "Status changed"
    REOPENED = "reopened", "Reopened"
    OWNER_CHANGED = "owner_changed", "Owner changed"
    SLA_RECOMPUTED = "sla_recomputed", "SLA deadlines recomputed"
    FIRST_RESPONSE = "first_response", "First response recorded"
    AFFECTED_CUSTOMER_ADDED = "affected_customer_added", "Affected customer added"
    ACTION_ITEM_DONE = "action_item_done", "Action item done"
    MESSAGE_DRAFTED = "message_drafted", "Message drafted"
    MESSAGE_SUBMITTED = "message_submitted", "Message sent for approval"
    MESSAGE_APPROVED = "message_approved", "Message approved"
    MESSAGE_REJECTED = "message_rejected", "Message rejected"
    MESSAGE_QUEUED = "message_queued", "Message queued"
    MESSAGE_SENT = "message_sent", "Message sent"
    MESSAGE_FAILED = "message_failed", "Message failed"
    MESSAGE_SUPPRESSED = "message_suppressed", "Message suppressed"
    MESSAGE_EDITED = "message_edited", "Message edited"
    MESSAGE_CANCELLED = "message_cancelled", "Message cancelled"
    REPLY_LOGGED = "reply_logged", "Reply logged"
    # Escalations (issue 11)
    ESCALATION_REQUESTED = "escalation_requested", "Escalation requested"
    ESCALATION_TRIGGERED = "escalation_triggered", "Escalation rule fired"
    ESCALATION_APPROVED = "escalation_approved", "Escalation approved"
    ESCALATION_REJECTED = "escalation_rejected", "Escalation rejected"
    ESCALATION_ACKNOWLEDGED = "escalation_acknowledged", "Escalation acknowledged"
    ESCALATION_RETURNED = "escalation_returned", "Escalation returned"
    ESCALATION_RESOLVED = "escalation_resolved", "Escalation resolved"
    ESCALATION_CANCELLED = "escalation_cancelled", "Escalation cancelled"
    ESCALATION_REMINDED = "escalation_reminded", "Escalation reminder sent"
    BUG_REPORT_FILED = "bug_report_filed", "Bug report filed"
    URGENT_ALERT_POSTED = "urgent_alert_posted", "Urgent alert posted"
    ON_CALL_PAGED = "on_call_paged", "On-call paged"
    MANAGEMENT_NOTIFIED = "management_notified", "Management notified"
    # Credits and refunds (issue 12)
    CREDIT_REQUESTED = "credit_requested", "Credit requested"
    CREDIT_APPROVED = "credit_approved", "Credit approved"
    CREDIT_REJECTED = "credit_rejected", "Credit rejected"
    CREDIT_APPLIED = "credit_applied", "Credit applied"
    CREDIT_CANCELLED = "credit_cancelled", "Credit cancelled"
    # Resolve, close and learn (issue 13)
    RESOLUTION_RECORDED = "resolution_recorded", "Resolution recorded"
    CHECKLIST_ATTACHED = "checklist_attached", "Checklist attached"
    CHECKLIST_ITEM_DONE = "checklist_item_done", "Checklist item done"
    CHECKLIST_ITEM_NOT_APPLICABLE = (
        "checklist_item_not_applicable",
        "Checklist item not applicable",
    )
    CHECKLIST_ITEM_REOPENED = "checklist_item_reopened", "Checklist item reopened"
    CLOSE_REFUSED = "close_refused", "Close refused"
    ARCHIVED = "archived", "Archived"
    POSTMORTEM_CHANGED = "postmortem_changed", "Post-mortem changed"
    COMMUNICATION_PLAN_CHANGED = (
        "communication_plan_changed",
        "Communication plan changed",
    )
    SECURITY_FLAGGED = "security_flagged", "Flagged as a security incident"
    SECURITY_PHASE_DONE = "security_phase_done", "Security phase done"
    REGULATORY_CLOCK_STARTED = "regulatory_clock_started", "Regulatory clock started"
    REGULATORY_NOTICE_SENT = "regulatory_notice_sent", "Regulatory notice sent"
    # Automation (issue 14)
    FOLLOW_UP_LOOP_CHANGED = "follow_up_loop_changed", "Follow-up loop changed"
    FOLLOW_UP_SLOTS_MISSED = "follow_up_slots_missed", "Follow-up slots missed"
    PARTY_SILENT = "party_silent", "Partner or vendor silent"
    SLA_AT_RISK_ALERTED = "sla_at_risk_alerted", "Deadline at risk"
    SLA_BREACHED = "sla_breached", "Deadline breached"
    AUTO_CLOSED = "auto_closed", "Closed by rule"
    REPLY_RECEIVED = "reply_received", "Reply received by e-mail"
    SIGNAL_RECEIVED = "signal_received", "Monitoring signal received"
    # Metrics (issue 15)
    SURVEY_ANSWERED = "survey_answered", "Satisfaction survey answered"


class TimelineEvent(models.Model):
    """One entry of an incident's append-only history.

    The database refuses UPDATE (and DELETE on PostgreSQL) of these rows; see
    migration 0002.
    """

    Kind = TimelineEventKind

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="timeline_events"
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    # PROTECT, not SET_NULL: nulling the actor would edit an append-only row.
    # Staff who leave are deactivated, and their history keeps their name.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="timeline_events",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField()
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # incident_timeline: one incident's history in order.
            models.Index(fields=["incident", "created_at", "id"], name="timeline_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=TimelineEventKind.values),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.created_at:%Y-%m-%d %H:%M}"


class StaffProfile(models.Model):
    """Per-person preferences: the zone times are shown in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    time_zone = models.CharField(max_length=64, default="UTC")

    def __str__(self):
        return f"{self.user} ({self.time_zone})"
