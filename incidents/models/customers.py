"""Who an incident is about and what can open one: customers and monitoring signals."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from .policy import Policy, Priority, Segment, validate_time_zone


class Signal(models.Model):
    """A proactive detection signal (SIG-001 …) that can open an incident."""

    code = models.CharField(
        max_length=20,
        unique=True,
        validators=[RegexValidator(r"^SIG-\d{3}$", "Codes look like SIG-001.")],
    )
    description = models.CharField(max_length=200)
    # Automation: what an incident opened by this signal gets.
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
