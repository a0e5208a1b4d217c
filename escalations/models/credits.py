"""Credits and refunds owed to customers, and who may grant how much.

Where the rules come from: the carrier communication playbook (goodwill
gestures, financial closure items), the carrier escalation guide (a refund
over $100 needs L2 approval), the communication plan template
(post-incident credit follow-up) and the fleet escalation playbook (support
manager up to $5,000, VP of customer success above).
"""

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from incidents.models import Customer, Incident, Policy

CURRENCY_VALIDATOR = RegexValidator(
    r"^[A-Z]{3}$", "Use a three-letter currency code such as USD."
)
CENT = Decimal("0.01")


class CreditKind(models.TextChoices):
    SERVICE_CREDIT = "service_credit", "Service credit"
    REFUND = "refund", "Refund"
    PLAN_EXTENSION = "plan_extension", "Plan extension"
    WAIVED_CHARGE = "waived_charge", "Waived charge"
    OTHER = "other", "Other"


class CreditStatus(models.TextChoices):
    REQUESTED = "requested", "Awaiting a decision"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    APPLIED = "applied", "Applied"
    CANCELLED = "cancelled", "Cancelled"


class CreditPolicy(models.Model):
    """How a policy handles money: its own currency and a cap per request."""

    policy = models.OneToOneField(
        Policy, on_delete=models.CASCADE, related_name="credit_policy"
    )
    currency = models.CharField(
        max_length=3,
        default="USD",
        validators=[CURRENCY_VALIDATOR],
        help_text="The currency this policy's approval limits and cap are "
        "written in. Requests in another currency are refused unless a rate "
        "below, or an approval limit, names that currency.",
    )
    cap = models.DecimalField(
        "largest request",
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(CENT)],
        help_text="No single request may ask for more than this (in the "
        "policy's currency): it catches a mistyped amount before anyone "
        "decides on it. Nobody's authority goes beyond it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "credit rules"
        verbose_name_plural = "credit rules"
        constraints = [
            models.CheckConstraint(
                condition=Q(cap__gt=0), name="%(app_label)s_%(class)s_cap_positive"
            ),
        ]

    def __str__(self):
        return f"Credit rules of {self.policy}"


class CurrencyRate(models.Model):
    """What one unit of another currency is worth in the policy's currency."""

    credit_policy = models.ForeignKey(
        CreditPolicy, on_delete=models.CASCADE, related_name="rates"
    )
    currency = models.CharField(max_length=3, validators=[CURRENCY_VALIDATOR])
    rate = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        validators=[MinValueValidator(Decimal("0.000001"))],
        help_text="Value of 1 unit of this currency in the policy's currency, "
        "e.g. 1.08 for EUR when the policy counts in USD. Requests in this "
        "currency are converted with it, then checked against the limits "
        "and the cap.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_policy", "currency"],
                name="%(app_label)s_%(class)s_one_rate",
            ),
            models.CheckConstraint(
                condition=Q(rate__gt=0), name="%(app_label)s_%(class)s_rate_positive"
            ),
        ]

    def __str__(self):
        return f"1 {self.currency} = {self.rate}"


APPROVAL_LIMIT_HELP = (
    "Who may approve or reject a credit, up to how much, per policy. A person "
    "may decide a request when ANY of their roles has a limit on the "
    "incident's policy for that kind (or for every kind) that covers the "
    "amount; nobody decides their own request. The shipped rules combine the "
    "playbooks: under the carrier playbook an agent decides refunds up to "
    "$100 and a refund above that needs a senior agent (L2), who decides "
    "refunds up to $5,000 (carrier escalation guide); under every policy a "
    "manager decides any kind up to $5,000 and the VP of customer success "
    "above that, up to the policy's largest request (fleet escalation "
    "playbook). Changes apply at once, also to requests already waiting."
)


class ApprovalLimit(models.Model):
    """How much one role may grant under one policy (help text above)."""

    policy = models.ForeignKey(
        Policy, on_delete=models.CASCADE, related_name="approval_limits"
    )
    group = models.ForeignKey(
        Group,
        on_delete=models.CASCADE,
        related_name="approval_limits",
        verbose_name="role",
    )
    kind = models.CharField(
        max_length=20,
        choices=CreditKind.choices,
        blank=True,
        help_text="Empty: every kind of credit.",
    )
    currency = models.CharField(
        max_length=3,
        default="USD",
        validators=[CURRENCY_VALIDATOR],
        help_text="The policy's own currency covers requests in every currency "
        "it has a rate for. Another currency covers requests in that "
        "currency only, compared as entered.",
    )
    max_amount = models.DecimalField(
        "up to",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(CENT)],
        help_text="Largest amount this role may decide, inclusive. Empty: up to "
        "the policy's largest request.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["policy__name", "max_amount", "group__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "group", "kind", "currency"],
                name="%(app_label)s_%(class)s_one_per_role",
                violation_error_message="This role already has a limit for this "
                "kind and currency under this policy; edit that one.",
            ),
            models.CheckConstraint(
                condition=Q(kind="") | Q(kind__in=CreditKind.values),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(max_amount__isnull=True) | Q(max_amount__gt=0),
                name="%(app_label)s_%(class)s_max_positive",
            ),
        ]

    def __str__(self):
        amount = (
            f"up to {self.max_amount:,.2f} {self.currency}"
            if self.max_amount is not None
            else f"any amount in {self.currency}"
        )
        kind = self.get_kind_display().lower() if self.kind else "any kind"
        return f"{self.group}: {kind}, {amount} ({self.policy})"

    def clean(self):
        # Without a rate, the policy's cap cannot be converted into this
        # currency: an open-ended limit there would have no ceiling at all.
        if self.max_amount is not None or not self.policy_id:
            return
        rules = CreditPolicy.objects.filter(policy_id=self.policy_id).first()
        if rules is None or self.currency == rules.currency:
            return
        if not rules.rates.filter(currency=self.currency).exists():
            raise ValidationError(
                {
                    "max_amount": ValidationError(
                        f"Give a maximum: the policy has no rate for "
                        f"{self.currency}, so its largest request cannot apply.",
                        code="unbounded_without_rate",
                    )
                }
            )


class CreditRequest(models.Model):
    """A credit or refund asked for on an incident, from request to billing."""

    Kind = CreditKind
    Status = CreditStatus
    DECIDED_STATUSES = (CreditStatus.APPROVED, CreditStatus.REJECTED)
    OPEN_STATUSES = (CreditStatus.REQUESTED, CreditStatus.APPROVED)

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="credit_requests"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="credit_requests"
    )
    kind = models.CharField(max_length=20, choices=CreditKind.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(
        max_length=3, default="USD", validators=[CURRENCY_VALIDATOR]
    )
    # The amount in the policy's currency at the request's rate; empty when
    # the currency has limits of its own but no rate. Authority and the
    # queue compare against it, so both always agree.
    policy_amount = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    extension_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="For a plan extension: by how many days.",
    )
    reason = models.TextField()
    evidence_messages = models.ManyToManyField(
        "comms.Message", blank=True, related_name="credit_requests"
    )
    evidence_note = models.TextField(blank=True)
    status = models.CharField(
        max_length=20, choices=CreditStatus.choices, default=CreditStatus.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="credits_requested",
    )
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="credits_decided",
        null=True,
        blank=True,
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    customer_message = models.ForeignKey(
        "comms.Message",
        on_delete=models.PROTECT,
        related_name="credit_notices",
        null=True,
        blank=True,
        help_text="The message telling the customer of the approval.",
    )
    billing_reference = models.CharField(max_length=100, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="credits_applied",
        null=True,
        blank=True,
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="credits_cancelled",
        null=True,
        blank=True,
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        permissions = [
            ("request_credit", "Can ask for a credit or refund"),
            ("decide_credit", "Can approve or reject credits within a limit"),
            ("apply_credit", "Can record an approved credit as applied in billing"),
            ("export_credits", "Can export credits for finance"),
        ]
        indexes = [
            # credits_to_decide and the navigation count.
            models.Index(fields=["status", "requested_at"], name="credit_status_idx"),
            # incident_credits: one incident's credits, newest first.
            models.Index(
                fields=["incident", "-requested_at"], name="credit_incident_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=CreditStatus.values),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=CreditKind.values),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="%(app_label)s_%(class)s_amount_positive",
                violation_error_message="The amount must be more than zero.",
            ),
            models.CheckConstraint(
                condition=Q(extension_days__isnull=True)
                | Q(kind="plan_extension", extension_days__gt=0),
                name="%(app_label)s_%(class)s_days_only_for_extensions",
            ),
            # Decided exactly when approved, rejected or applied; a cancelled
            # request may or may not have been decided first.
            models.CheckConstraint(
                condition=Q(
                    status="requested", decided_by__isnull=True, decided_at__isnull=True
                )
                | Q(
                    status__in=["approved", "rejected", "applied"],
                    decided_by__isnull=False,
                    decided_at__isnull=False,
                )
                | Q(status="cancelled"),
                name="%(app_label)s_%(class)s_decided_iff_decided",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(decision_reason=""),
                name="%(app_label)s_%(class)s_rejection_has_reason",
            ),
            # Four eyes, for every writer: nobody decides their own request.
            models.CheckConstraint(
                condition=~Q(decided_by=F("requested_by")),
                name="%(app_label)s_%(class)s_not_own_decision",
            ),
            models.CheckConstraint(
                condition=Q(
                    status="applied",
                    applied_by__isnull=False,
                    applied_at__isnull=False,
                )
                & ~Q(billing_reference="")
                | Q(
                    ~Q(status="applied"),
                    applied_by__isnull=True,
                    applied_at__isnull=True,
                    billing_reference="",
                ),
                name="%(app_label)s_%(class)s_applied_iff_applied",
            ),
            models.CheckConstraint(
                condition=Q(
                    status="cancelled",
                    cancelled_by__isnull=False,
                    cancelled_at__isnull=False,
                )
                | Q(
                    ~Q(status="cancelled"),
                    cancelled_by__isnull=True,
                    cancelled_at__isnull=True,
                ),
                name="%(app_label)s_%(class)s_cancelled_iff_cancelled",
            ),
        ]

    def __str__(self):
        return (
            f"{self.get_kind_display()} {self.amount:,.2f} {self.currency} "
            f"({self.get_status_display().lower()})"
        )

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("escalations:incident_credits", args=[self.incident_id])

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def clean(self):
        if self.kind != CreditKind.PLAN_EXTENSION and self.extension_days:
            raise ValidationError(
                {
                    "extension_days": ValidationError(
                        "Only a plan extension runs for a number of days.",
                        code="days_not_extension",
                    )
                }
            )
