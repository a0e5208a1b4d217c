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
    archive_after_days = models.PositiveSmallIntegerField(
        default=30,
        help_text="Closed incidents leave the default list and searches this "
        "many days after closing, and become read-only (000: archive after "
        "close).",
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
    # Automation (issue 14): auto-close rules (000 part 6 and part 7).
    check_in_after_resolved_minutes = models.PositiveIntegerField(
        default=72 * 60,
        help_text="A resolved incident whose customer stays silent this long "
        "gets the check-in e-mail, which says when it will close.",
    )
    close_after_check_in_minutes = models.PositiveIntegerField(
        default=3 * 24 * 60,
        help_text="After the check-in, a still silent customer's incident "
        "closes as resolved once this has passed (the check-in promises it).",
    )
    close_pending_after_minutes = models.PositiveIntegerField(
        default=7 * 24 * 60,
        help_text="An incident waiting on the customer's information this "
        "long with no reply closes as pending; a reply reopens it.",
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
    monitoring_window_minutes = models.PositiveIntegerField(
        default=24 * 60,
        help_text="After resolving, watch this long for a recurrence before "
        "the incident may close (000: 48 h for P1/P2, 24 h for P3/P4).",
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
    revenue_impact = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Where known: revenue lost or put at risk by the incident "
        "(000 5A). The metrics add it up for systemic incidents.",
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
    # Closure (issue 13): set by resolving and by the archive sweep.
    monitoring_ends_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)

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
            # incident_list: the default list (archived incidents left out),
            # newest first.
            models.Index(
                fields=["-created_at", "-id"],
                condition=Q(archived_at__isnull=True),
                name="incident_live_created_idx",
            ),
            # incidents_due_for_archive: closed incidents not yet archived.
            models.Index(
                fields=["closed_at"],
                condition=Q(archived_at__isnull=True, closed_at__isnull=False),
                name="incident_archive_due_idx",
            ),
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
    # A post-mortem's actions say what they improve (000 part 8).
    PREVENTIVE = "preventive", "Preventive action"
    PROCESS = "process", "Process improvement"
    MONITORING = "monitoring", "Monitoring addition"


POSTMORTEM_ACTION_KINDS = (
    ActionItemKind.PREVENTIVE,
    ActionItemKind.PROCESS,
    ActionItemKind.MONITORING,
)


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
    # Post-mortem actions (issue 13): the post-mortem that agreed them and
    # the person who owns them, whose home page lists them once overdue.
    postmortem = models.ForeignKey(
        "PostMortem",
        on_delete=models.PROTECT,
        related_name="action_items",
        null=True,
        blank=True,
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="action_items",
        null=True,
        blank=True,
    )
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # overdue_action_items: open actions by owner and deadline.
            models.Index(
                fields=["status", "owner", "due_at"], name="action_overdue_idx"
            ),
        ]
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


# ---------------------------------------------------------------------------
# Closure checklists (issue 13, part A: resolve, checklists, close guard)
# ---------------------------------------------------------------------------


class ChecklistCondition(models.TextChoices):
    """When a checklist or one of its items applies to an incident."""

    ALWAYS = "always", "Always"
    PARTNER_INVOLVED = "partner_involved", "Only if a partner is involved"
    VENDOR_INVOLVED = "vendor_involved", "Only if a vendor is involved"
    MAJOR = "major", "Only for P1/P2 or systemic incidents"
    FINANCIAL_IMPACT = "financial_impact", "Only if money was paid"
    CREDIT_REQUESTED = "credit_requested", "Only if a credit or refund was requested"
    ESCALATED = "escalated", "Only if the incident was escalated"
    SECURITY = "security", "Only for security incidents"


class ChecklistEvidence(models.TextChoices):
    """What ticks an item by itself; NONE means a person ticks it."""

    NONE = "none", "None: a person ticks it"
    ROOT_CAUSE_RECORDED = "root_cause_recorded", "Root cause written on the incident"
    RESOLUTION_VERIFIED = "resolution_verified", "Resolution recorded with how verified"
    RESOLUTION_MESSAGE_SENT = (
        "resolution_message_sent",
        "Resolution message sent to the audience",
    )
    PARTY_CONFIRMED = (
        "party_confirmed",
        "Resolution message sent to the audience and a reply logged from it",
    )
    CUSTOMER_CONFIRMED_OR_72H = (
        "customer_confirmed_or_72h",
        "Customer confirmed, or the wait passed with no reply",
    )
    MONITORING_WINDOW_PASSED = (
        "monitoring_window_passed",
        "Monitoring window passed without recurrence",
    )
    MONITORING_CHECK_SCHEDULED = (
        "monitoring_check_scheduled",
        "Post-resolution check scheduled (the monitoring window)",
    )
    INTERNAL_NOTE_POSTED = "internal_note_posted", "Internal resolution note posted"
    ESCALATION_NOTICE_SENT = (
        "escalation_notice_sent",
        "Customer told of the escalation",
    )
    CREDITS_SETTLED = "credits_settled", "Every credit or refund applied or settled"
    POSTMORTEM_SCHEDULED = "postmortem_scheduled", "Post-mortem scheduled"
    TAGS_UPDATED = "tags_updated", "Tags show resolved, not in progress"
    SECURITY_PHASES_DONE = (
        "security_phases_done",
        "Every phase of the security response done",
    )
    LEGAL_APPROVED = "legal_approved", "Legal approved what customers are told"


class ChecklistAudience(models.TextChoices):
    ANY = "", "—"
    INTERNAL = "internal", "Internal"
    CUSTOMER = "customer", "Customer"
    PARTNER = "partner", "Partner"
    VENDOR = "vendor", "Vendor"


class ChecklistTemplate(models.Model):
    """A checklist the portal attaches to incidents whose facts call for it."""

    Condition = ChecklistCondition

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    policy = models.ForeignKey(
        Policy,
        on_delete=models.PROTECT,
        related_name="checklist_templates",
        null=True,
        blank=True,
        help_text="Only incidents under this policy get it; empty means every policy.",
    )
    condition = models.CharField(
        max_length=30, choices=Condition.choices, default=Condition.ALWAYS
    )
    attaches_on_resolve = models.BooleanField(
        default=True,
        help_text="Attach when the incident is resolved. Unticked: attach as "
        "soon as the condition holds (e.g. an escalation checklist).",
    )
    gates_closed_pending = models.BooleanField(
        default=False,
        help_text="Also hold back closing as pending (waiting on the customer). "
        "Otherwise only a full close waits for this checklist.",
    )
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(condition__in=ChecklistCondition.values),
                name="%(app_label)s_%(class)s_condition_valid",
            ),
        ]

    def __str__(self):
        return self.name


class ChecklistTemplateItem(models.Model):
    """One line of a checklist template, with when it applies and what ticks it."""

    Condition = ChecklistCondition
    Evidence = ChecklistEvidence
    Audience = ChecklistAudience

    template = models.ForeignKey(
        ChecklistTemplate, on_delete=models.CASCADE, related_name="items"
    )
    group = models.CharField(max_length=80, help_text="e.g. Resolution verified.")
    text = models.CharField(max_length=300)
    is_required = models.BooleanField(
        default=True,
        help_text="Closing waits until it is done or marked not applicable.",
    )
    condition = models.CharField(
        max_length=30, choices=Condition.choices, default=Condition.ALWAYS
    )
    evidence = models.CharField(
        max_length=40, choices=Evidence.choices, default=Evidence.NONE
    )
    audience = models.CharField(
        max_length=20,
        choices=Audience.choices,
        blank=True,
        help_text="For message evidence: whose resolution message counts.",
    )
    wait_hours = models.PositiveIntegerField(
        default=72,
        help_text="For “customer confirmed, or the wait passed”: the wait.",
    )
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["template", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(condition__in=ChecklistCondition.values),
                name="%(app_label)s_%(class)s_condition_valid",
            ),
            models.CheckConstraint(
                condition=Q(evidence__in=ChecklistEvidence.values),
                name="%(app_label)s_%(class)s_evidence_valid",
            ),
            models.CheckConstraint(
                condition=Q(audience__in=ChecklistAudience.values),
                name="%(app_label)s_%(class)s_audience_valid",
            ),
        ]

    def __str__(self):
        return f"{self.group}: {self.text}"

    def clean(self):
        needs_audience = {
            ChecklistEvidence.RESOLUTION_MESSAGE_SENT,
            ChecklistEvidence.PARTY_CONFIRMED,
        }
        if self.evidence in needs_audience and not self.audience:
            raise ValidationError(
                {"audience": "Say whose message counts as evidence."},
                code="audience_required",
            )


class IncidentChecklist(models.Model):
    """A checklist template's copy on one incident."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="checklists"
    )
    template = models.ForeignKey(
        ChecklistTemplate, on_delete=models.PROTECT, related_name="copies"
    )
    name = models.CharField(max_length=120)
    gates_closed_pending = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)
    attached_at = models.DateTimeField()

    class Meta:
        ordering = ["position", "id"]
        permissions = [
            (
                "work_checklist",
                "Can tick checklist items or mark them not applicable",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "template"],
                name="%(app_label)s_%(class)s_once_per_incident",
            )
        ]

    def __str__(self):
        return f"{self.name} · {self.incident.reference}"


class ChecklistItemState(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class IncidentChecklistItem(models.Model):
    """One line of an incident's checklist: its state, who settled it and why."""

    State = ChecklistItemState
    Evidence = ChecklistEvidence

    checklist = models.ForeignKey(
        IncidentChecklist, on_delete=models.PROTECT, related_name="items"
    )
    template_item = models.ForeignKey(
        ChecklistTemplateItem, on_delete=models.PROTECT, related_name="copies"
    )
    group = models.CharField(max_length=80)
    text = models.CharField(max_length=300)
    is_required = models.BooleanField(default=True)
    condition = models.CharField(max_length=30, choices=ChecklistCondition.choices)
    evidence = models.CharField(max_length=40, choices=ChecklistEvidence.choices)
    audience = models.CharField(
        max_length=20, choices=ChecklistAudience.choices, blank=True
    )
    wait_hours = models.PositiveIntegerField(default=72)
    position = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPEN)
    # Who settled it: empty with a state other than open means the portal
    # did, from evidence or because the item stopped applying.
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="settled_checklist_items",
        null=True,
        blank=True,
    )
    settled_at = models.DateTimeField(null=True, blank=True)
    evidence_text = models.CharField(max_length=300, blank=True)
    evidence_at = models.DateTimeField(null=True, blank=True)
    not_applicable_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["checklist", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["checklist", "template_item"],
                name="%(app_label)s_%(class)s_once_per_checklist",
            ),
            models.CheckConstraint(
                condition=Q(state__in=ChecklistItemState.values),
                name="%(app_label)s_%(class)s_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(state="open", settled_at__isnull=True)
                | (~Q(state="open") & Q(settled_at__isnull=False)),
                name="%(app_label)s_%(class)s_settled_at_iff_settled",
            ),
            models.CheckConstraint(
                condition=~Q(state="not_applicable") | ~Q(not_applicable_reason=""),
                name="%(app_label)s_%(class)s_not_applicable_has_reason",
                violation_error_message="Say why the item does not apply.",
            ),
        ]

    def __str__(self):
        return f"{self.group}: {self.text} ({self.get_state_display()})"

    @property
    def is_settled(self) -> bool:
        return self.state != ChecklistItemState.OPEN


class ResolutionVerification(models.TextChoices):
    """How a resolution was confirmed (000 part 5A, Verification)."""

    CUSTOMER_CONFIRMATION = "customer_confirmation", "Customer confirmation"
    SYSTEM_CHECK = "system_check", "System check"
    MONITORING = "monitoring", "Monitoring"


# --- Satisfaction survey (issue 15) -----------------------------------------


class SurveyResponse(models.Model):
    """A customer's answer to the satisfaction survey sent with the resolution.

    One per incident and customer: the link in the e-mail is signed for that
    pair, so the unique constraint is what makes it single-use.
    """

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="survey_responses"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="survey_responses"
    )
    # 001's five questions; the first is the one every link asks.
    score = models.PositiveSmallIntegerField(
        help_text="Overall satisfaction, 1 (very unhappy) to 5 (very happy)."
    )
    communication_score = models.PositiveSmallIntegerField(null=True, blank=True)
    response_time_score = models.PositiveSmallIntegerField(null=True, blank=True)
    resolution_score = models.PositiveSmallIntegerField(null=True, blank=True)
    handling_score = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField()

    class Meta:
        ordering = ["-answered_at", "-id"]
        indexes = [
            # escalations.metrics: answers in a date range.
            models.Index(fields=["answered_at"], name="survey_answered_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "customer"],
                name="%(app_label)s_%(class)s_one_answer_per_link",
            ),
            models.CheckConstraint(
                condition=Q(score__gte=1, score__lte=5),
                name="%(app_label)s_%(class)s_score_in_range",
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__isnull": True})
                    | Q(**{f"{name}__gte": 1, f"{name}__lte": 5}),
                    name=f"%(app_label)s_%(class)s_{name}_in_range",
                )
                for name in (
                    "communication_score",
                    "response_time_score",
                    "resolution_score",
                    "handling_score",
                )
            ),
        ]

    def __str__(self):
        return f"{self.score}/5 for {self.incident.reference}"


# --- Post-mortems (issue 13 part B: 000 part 8, 004 lessons learned) ---------


class PostMortemStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"


class PostMortem(models.Model):
    """What an incident taught: its timeline, what went well and wrong, actions.

    Required for P1, P2 and systemic incidents (a closure checklist item reads
    the POSTMORTEM_CHANGED timeline events), optional for the rest.
    """

    Status = PostMortemStatus

    incident = models.OneToOneField(
        Incident, on_delete=models.PROTECT, related_name="postmortem"
    )
    scheduled_on = models.DateField(
        "date",
        null=True,
        blank=True,
        help_text="When the review meeting takes (or took) place.",
    )
    attendees = models.TextField(blank=True, help_text="Names or teams, one a line.")
    summary = models.TextField(blank=True)
    went_well = models.TextField("what went well", blank=True)
    went_wrong = models.TextField("what went wrong", blank=True)
    is_security_review = models.BooleanField(
        default=False,
        help_text="The lessons-learned review of a security incident (004 step 7).",
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    published_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("publish_postmortem", "Can publish a post-mortem after review"),
        ]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="postmortem_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PostMortemStatus.values),
                name="%(app_label)s_%(class)s_status_valid",
            ),
        ]

    def __str__(self):
        return f"Post-mortem of {self.incident.reference}"

    def get_absolute_url(self):
        return reverse("incidents:postmortem", args=[self.incident_id])


class PostMortemMilestone(models.TextChoices):
    """The moments 000's post-mortem timeline names, in their order."""

    DETECTED = "detected", "Issue first detected"
    INTERNAL_ALERT = "internal_alert", "Internal alert sent"
    CUSTOMER_NOTIFIED = "customer_notified", "Customer notified"
    PARTY_ENGAGED = "party_engaged", "Partner or vendor engaged"
    ROOT_CAUSE = "root_cause", "Root cause identified"
    FIX_APPLIED = "fix_applied", "Fix applied"
    VERIFIED = "verified", "Resolution verified"
    STAKEHOLDERS_NOTIFIED = "stakeholders_notified", "All stakeholders notified"
    CLOSED = "closed", "Ticket closed"


class PostMortemTimelineRow(models.Model):
    """One line of a post-mortem's timeline: written from an event or by hand."""

    Milestone = PostMortemMilestone

    postmortem = models.ForeignKey(
        PostMortem, on_delete=models.CASCADE, related_name="timeline_rows"
    )
    at = models.DateTimeField()
    text = models.CharField(max_length=300)
    milestone = models.CharField(
        max_length=30, choices=Milestone.choices, blank=True, default=""
    )
    source_event = models.ForeignKey(
        TimelineEvent,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    is_hidden = models.BooleanField(default=False)
    is_edited = models.BooleanField(
        default=False, help_text="A person changed the written line."
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["at", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["postmortem", "milestone"],
                condition=~Q(milestone=""),
                name="%(app_label)s_%(class)s_milestone_once",
            ),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.text}"


# --- Communication plans for major incidents (issue 13 part B: seed 003) -----


class PlanSection(models.TextChoices):
    """The six sections seed 003's plan has, in its order."""

    SUMMARY = "summary", "Incident summary"
    AUDIENCE = "audience", "Audience"
    MESSAGE_TIMELINE = "message_timeline", "Message timeline"
    TEMPLATES = "templates", "Templates"
    APPROVAL_FLOW = "approval_flow", "Approval flow"
    FOLLOW_UP = "follow_up", "Post-incident follow-up"


class PlanReviewCycle(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    ANNUAL = "annual", "Annual"
    EVENT_BASED = "event_based", "Event-based"


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"


class PlanRowStatus(models.TextChoices):
    OPEN = "open", "Open"
    COMPLETE = "complete", "Complete"


class CommunicationPlanTemplate(models.Model):
    """The shape a new plan starts from: its sections and default rows."""

    name = models.CharField(max_length=100, unique=True)
    category = models.CharField(max_length=100, default="Customer Success")
    review_cycle = models.CharField(
        max_length=20, choices=PlanReviewCycle.choices, default="event_based"
    )
    is_default = models.BooleanField(
        default=False, help_text="New plans start from this template."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="%(app_label)s_%(class)s_single_default",
                violation_error_message="Another plan template is already the "
                "default; untick it there first.",
            ),
        ]

    def __str__(self):
        return self.name


class CommunicationPlanTemplateSection(models.Model):
    template = models.ForeignKey(
        CommunicationPlanTemplate, on_delete=models.CASCADE, related_name="sections"
    )
    section = models.CharField(max_length=20, choices=PlanSection.choices)
    heading = models.CharField(max_length=100)
    guidance = models.CharField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["template", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "section"],
                name="%(app_label)s_%(class)s_once_per_template",
            ),
        ]

    def __str__(self):
        return f"{self.template} · {self.heading}"


class CommunicationPlanTemplateRow(models.Model):
    section = models.ForeignKey(
        CommunicationPlanTemplateSection, on_delete=models.CASCADE, related_name="rows"
    )
    key = models.SlugField(
        max_length=40,
        blank=True,
        help_text="Lets the portal fill this row from what it knows (e.g. "
        "rca_sent, renewal_risk). Empty: people fill it.",
    )
    item = models.CharField(max_length=200)
    details = models.CharField(max_length=500, blank=True)
    owner = models.CharField(max_length=120, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["section", "position", "id"]

    def __str__(self):
        return self.item


class CommunicationPlan(models.Model):
    """A major incident's customer communication plan (seed 003)."""

    Status = PlanStatus
    ReviewCycle = PlanReviewCycle

    incident = models.OneToOneField(
        Incident, on_delete=models.PROTECT, related_name="communication_plan"
    )
    template = models.ForeignKey(
        CommunicationPlanTemplate,
        on_delete=models.SET_NULL,
        related_name="plans",
        null=True,
        blank=True,
    )
    category = models.CharField(max_length=100, default="Customer Success")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    version = models.PositiveIntegerField(
        default=1, help_text="Goes up when an approved plan changes."
    )
    effective_on = models.DateField(null=True, blank=True)
    review_cycle = models.CharField(
        max_length=20, choices=PlanReviewCycle.choices, default="event_based"
    )
    status = models.CharField(
        max_length=20, choices=PlanStatus.choices, default="draft"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("approve_communicationplan", "Can approve a communication plan"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PlanStatus.values),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(review_cycle__in=PlanReviewCycle.values),
                name="%(app_label)s_%(class)s_review_cycle_valid",
            ),
        ]

    def __str__(self):
        return f"Communication plan of {self.incident.reference}"

    def get_absolute_url(self):
        return reverse("incidents:plan", args=[self.incident_id])


class CommunicationPlanSection(models.Model):
    plan = models.ForeignKey(
        CommunicationPlan, on_delete=models.CASCADE, related_name="sections"
    )
    section = models.CharField(max_length=20, choices=PlanSection.choices)
    heading = models.CharField(max_length=100)
    guidance = models.CharField(max_length=300, blank=True)
    notes = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["plan", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "section"],
                name="%(app_label)s_%(class)s_once_per_plan",
            ),
        ]

    def __str__(self):
        return self.heading


class CommunicationPlanRow(models.Model):
    RowStatus = PlanRowStatus

    section = models.ForeignKey(
        CommunicationPlanSection, on_delete=models.CASCADE, related_name="rows"
    )
    key = models.SlugField(max_length=40, blank=True)
    item = models.CharField(max_length=200)
    details = models.CharField(max_length=500, blank=True)
    owner = models.CharField(max_length=120, blank=True)
    due_on = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=PlanRowStatus.choices, default="open"
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["section", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=PlanRowStatus.values),
                name="%(app_label)s_%(class)s_status_valid",
            ),
        ]

    def __str__(self):
        return self.item


# --- Security incident response (issue 13 part B: seed 004) -----------------


class SecurityIncidentType(models.TextChoices):
    DATA_BREACH = "data_breach", "Data breach"
    ACCOUNT_COMPROMISE = "account_compromise", "Account compromise"
    VULNERABILITY_DISCLOSURE = "vulnerability_disclosure", "Vulnerability disclosure"
    DDOS = "ddos", "DDoS attack"
    MALWARE = "malware", "Malware"
    INSIDER_THREAT = "insider_threat", "Insider threat"


class SecurityPhaseKind(models.TextChoices):
    """004's seven response steps, in their order."""

    IDENTIFY = "identify", "Identify"
    CONTAIN = "contain", "Contain"
    INVESTIGATE = "investigate", "Investigate"
    ERADICATE = "eradicate", "Eradicate"
    RECOVER = "recover", "Recover"
    NOTIFY = "notify", "Notify"
    LESSONS = "lessons", "Lessons learned"


class SecurityResponse(models.Model):
    """An incident run as a security incident: phases, clocks, Legal's word."""

    Type = SecurityIncidentType

    incident = models.OneToOneField(
        Incident, on_delete=models.PROTECT, related_name="security_response"
    )
    incident_type = models.CharField(
        max_length=30, choices=SecurityIncidentType.choices
    )
    detected_at = models.DateTimeField(
        help_text="Every phase and regulatory clock counts from here."
    )
    flagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    flagged_at = models.DateTimeField()
    legal_approver = models.CharField(
        max_length=120,
        blank=True,
        help_text="Who in Legal approved the customer security notice.",
    )
    legal_note = models.TextField(
        blank=True, help_text="Who must be told, by when, and what may be said."
    )
    legal_approved_at = models.DateTimeField(null=True, blank=True)
    legal_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )

    class Meta:
        permissions = [
            ("flag_security_incident", "Can flag an incident as a security incident"),
            (
                "record_legal_approval",
                "Can record Legal's approval of a customer security notice",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(incident_type__in=SecurityIncidentType.values),
                name="%(app_label)s_%(class)s_type_valid",
            ),
        ]

    def __str__(self):
        return f"Security response to {self.incident.reference}"

    def get_absolute_url(self):
        return reverse("incidents:security", args=[self.incident_id])


class SecurityPhase(models.Model):
    """One of 004's seven phases for one incident, with its deadline."""

    Kind = SecurityPhaseKind

    response = models.ForeignKey(
        SecurityResponse, on_delete=models.CASCADE, related_name="phases"
    )
    kind = models.CharField(max_length=20, choices=SecurityPhaseKind.choices)
    starts_at = models.DateTimeField()
    due_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Empty: set by the regulatory clocks the responder chooses.",
    )
    at_risk_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["response", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["response", "kind"], name="%(app_label)s_%(class)s_once"
            ),
        ]

    def __str__(self):
        return self.get_kind_display()


class SecurityChecklistItem(models.Model):
    phase = models.ForeignKey(
        SecurityPhase, on_delete=models.CASCADE, related_name="items"
    )
    group = models.CharField(max_length=60)
    text = models.CharField(max_length=200)
    is_done = models.BooleanField(default=False)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    done_at = models.DateTimeField(null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["phase", "position", "id"]

    def __str__(self):
        return self.text


class SecurityNotification(models.Model):
    """Someone who must hear at once (004 step 1): when, by whom, how."""

    response = models.ForeignKey(
        SecurityResponse, on_delete=models.CASCADE, related_name="notifications"
    )
    recipient = models.CharField(max_length=30)
    label = models.CharField(max_length=100)
    contact = models.CharField(max_length=200, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    notified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    how = models.CharField(max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["response", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["response", "recipient"], name="%(app_label)s_%(class)s_once"
            ),
        ]

    def __str__(self):
        return self.label


class SecurityContact(models.Model):
    """Someone told at once when an incident is flagged as a security incident.

    004 step 1 names the security officer, the CTO and the on-call engineer;
    each flagged incident copies the active contacts into its own list of
    who was told, when and how.
    """

    key = models.SlugField(max_length=30, unique=True)
    label = models.CharField(max_length=100, help_text="e.g. Security officer")
    contact = models.CharField(
        max_length=200,
        blank=True,
        help_text="How to reach them: an e-mail address, a phone, a pager.",
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "label"]

    def __str__(self):
        return self.label


class RegulatoryRegime(models.Model):
    """A breach-notification law and its clock (004 step 6), as data."""

    key = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=100)
    notify_whom = models.CharField(max_length=100, default="Regulators")
    deadline_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Counted from detection. Empty when the law sets no fixed time.",
    )
    deadline_text = models.CharField(
        max_length=200,
        help_text="The deadline as the law puts it, e.g. “72 hours”.",
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class RegulatoryClock(models.Model):
    """A regulatory deadline the responder decided applies to an incident."""

    response = models.ForeignKey(
        SecurityResponse, on_delete=models.CASCADE, related_name="regulatory_clocks"
    )
    regime = models.ForeignKey(
        RegulatoryRegime, on_delete=models.PROTECT, related_name="clocks"
    )
    started_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    notified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    reference = models.CharField(
        max_length=200, blank=True, help_text="Filing or case number."
    )

    class Meta:
        ordering = ["response", "due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["response", "regime"], name="%(app_label)s_%(class)s_once"
            ),
        ]

    def __str__(self):
        return f"{self.regime} for {self.response.incident.reference}"
