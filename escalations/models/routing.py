"""Where escalations go: tiers, customer flags, routing rules and the checks
before escalating."""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from incidents.models import Category, Policy, Priority, validate_time_zone

from .hours import parse_working_hours, validate_working_hours
from .paging import PagerKind
from .paths import Path, Urgency

SEED_PRECEDENCE_HELP = (
    "Where the seeds disagree (e.g. 002 gives L2 24 h, 004 gives Tier 2 1 h), "
    "each policy's own seed wins: the carrier policy follows 002, the fleet "
    "policy 004."
)


class Tier(models.Model):
    """A team escalations go to, under one policy."""

    class Tag(models.TextChoices):
        NONE = "", "—"
        L2 = "escalated_l2", "escalated_l2"
        ENGINEERING = "escalated_engineering", "escalated_engineering"
        TRUST_SAFETY = "escalated_ts", "escalated_ts"
        CARRIER = "escalated_carrier", "escalated_carrier"

    policy = models.ForeignKey(
        Policy, on_delete=models.PROTECT, related_name="escalation_tiers"
    )
    key = models.SlugField(max_length=40, help_text="Stable name rules refer to.")
    name = models.CharField(max_length=80)
    position = models.PositiveSmallIntegerField(
        default=0,
        help_text="Order of the tiers: “next tier” means the next position up.",
    )
    next_up = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="below",
        help_text="Where “one tier up” goes from here (silence, deadlines); "
        "empty: the next tier by position. Side teams (engineering, the "
        "carrier) usually point to the team above them, not to each other.",
    )
    handles = models.TextField(blank=True, help_text="What this tier handles.")
    default_path = models.CharField(
        max_length=20,
        choices=Path.choices,
        blank=True,
        help_text="The note an automatic escalation to this tier carries.",
    )
    response_target_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Time to acknowledge an escalation. 0 = instant; empty = none. "
        + SEED_PRECEDENCE_HELP,
    )
    response_target_note = models.CharField(
        max_length=200,
        blank=True,
        help_text="The seed's wording where one number cannot say it all "
        "(e.g. “critical bugs 1 h, non-critical 24 h, features 1 week”).",
    )
    customer_update_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="While this tier has the case, the customer hears from us at "
        "least this often, and the escalation e-mail promises it (e.g. 1440: "
        "'within 24 hours'). Empty: the priority's usual cadence.",
    )
    reminder_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Remind the tier at this interval while an escalation waits "
        "unacknowledged. Empty: no reminders.",
    )
    working_hours = models.CharField(
        max_length=200,
        blank=True,
        validators=[validate_working_hours],
        help_text="e.g. “Mon-Fri 06:00-20:00, Sat 08:00-17:00”. Empty: around "
        "the clock.",
    )
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone]
    )
    has_on_call = models.BooleanField(
        "on call",
        default=False,
        help_text="Someone is paged for urgent escalations out of hours.",
    )
    p1_response_target_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Time to acknowledge a P1 (Sev 1) incident, when sooner than "
        "the tier's own target (e.g. 60: critical bugs within the hour).",
    )
    pages_on_call_for_p1 = models.BooleanField(
        default=False,
        help_text="A P1 (Sev 1) reaching this tier pages the on-call person at "
        "once, in working hours too; otherwise only urgent escalations out of "
        "hours page.",
    )
    on_call_top_priority_only = models.BooleanField(
        default=False, help_text="Page the on-call person for P1 incidents only."
    )
    on_call_contact = models.CharField(
        max_length=120, blank=True, help_text="Who or what the pager calls."
    )
    pager = models.CharField(
        max_length=20,
        choices=PagerKind.choices,
        blank=True,
        default=PagerKind.DEFAULT,
        help_text="Where this tier's pages go. PagerDuty and HTTP pages are "
        "acknowledged and resolved as the escalation is.",
    )
    pager_key = models.CharField(
        max_length=200,
        blank=True,
        help_text="PagerDuty: the service integration's routing key. HTTP: "
        "optional, sent as a bearer token.",
    )
    pager_url = models.URLField(
        blank=True,
        help_text="HTTP: where the page is posted. PagerDuty: empty for the "
        "Events API, or a proxy's address.",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="escalation_tiers"
    )
    member_groups = models.ManyToManyField(
        Group, blank=True, related_name="escalation_tiers"
    )
    chat_channel = models.CharField(
        max_length=80,
        blank=True,
        help_text="Where this tier's escalation alerts are posted. Empty: the "
        "incident's category channel, which may be another team's.",
    )
    tag = models.CharField(
        max_length=30,
        choices=Tag.choices,
        blank=True,
        help_text="The incident tag an escalation here adds (002).",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["policy", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "key"], name="%(app_label)s_%(class)s_key_unique"
            ),
            models.CheckConstraint(
                condition=Q(
                    tag__in=[
                        "",
                        "escalated_l2",
                        "escalated_engineering",
                        "escalated_ts",
                        "escalated_carrier",
                    ]
                ),
                name="%(app_label)s_%(class)s_tag_valid",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.policy})"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("escalations:tier_queue", args=[self.pk])

    def clean(self):
        super().clean()
        if self.pager == PagerKind.PAGERDUTY and not self.pager_key.strip():
            raise ValidationError(
                {"pager_key": "PagerDuty needs the service integration's routing key."}
            )
        if self.pager == PagerKind.HTTP and not self.pager_url:
            raise ValidationError({"pager_url": "Say where the page is posted."})

    def is_working_at(self, moment: dt.datetime) -> bool:
        """Return whether ``moment`` falls in the tier's working hours."""
        spans = parse_working_hours(self.working_hours)
        if not spans:
            return True
        local = moment.astimezone(zoneinfo.ZoneInfo(self.time_zone))
        return any(
            local.isoweekday() in span.weekdays
            and span.start <= local.time() < span.end
            for span in spans
        )


class CustomerFlag(models.TextChoices):
    ANY = "", "Any customer"
    VIP = "vip", "VIP"
    ENTERPRISE = "enterprise", "Enterprise"
    VIP_OR_ENTERPRISE = "vip_or_enterprise", "VIP or enterprise"


class Flag(models.TextChoices):
    """What the agent tells the portal on the escalate form."""

    NONE = "", "—"
    TROUBLESHOOTING_EXHAUSTED = (
        "troubleshooting_exhausted",
        "Every troubleshooting step tried",
    )
    BUG_IDENTIFIED = "bug_identified", "A system error or bug is identified"
    SUSPENSION_APPEAL = "suspension_appeal", "Account suspension appeal"
    FRAUD_SUSPECTED = "fraud_suspected", "Fraud suspected"
    SECURITY_SUSPECTED = "security_suspected", "Security incident or breach suspected"
    LEGAL_REQUEST = "legal_request", "Legal or compliance request"
    LEGAL_THREAT = "legal_threat", "Customer threatens legal action"
    CUSTOMER_ASKED = "customer_asked", "Customer asks for escalation"
    CHURN_THREAT = "churn_threat", "Customer threatens to cancel"
    MEDIA_INQUIRY = "media_inquiry", "Media or press inquiry"
    PORT_IN_REJECTED = "port_in_rejected", "Port-in rejected"


class EscalationRule(models.Model):
    """When to escalate and to whom: a condition the portal evaluates.

    Every condition that is set must hold; unset ones are ignored. Automatic
    rules are evaluated by the per-minute sweep and fire once per incident;
    the others are suggestions on the escalate form.
    """

    policy = models.ForeignKey(
        Policy, on_delete=models.PROTECT, related_name="escalation_rules"
    )
    key = models.SlugField(max_length=60)
    name = models.CharField(max_length=150)
    source = models.CharField(
        max_length=100,
        blank=True,
        help_text="Where the rule comes from, in words a colleague can look up, "
        "e.g. “Carrier escalation guide, item 3”.",
    )
    position = models.PositiveSmallIntegerField(default=0)
    priority = models.CharField(
        max_length=2,
        choices=Priority.choices,
        blank=True,
        help_text="Only incidents of this priority. Empty: any.",
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        related_name="escalation_rules",
        null=True,
        blank=True,
    )
    customer_flag = models.CharField(
        max_length=20, choices=CustomerFlag.choices, blank=True
    )
    flag = models.CharField(
        max_length=30,
        choices=Flag.choices,
        blank=True,
        help_text="Holds only when the agent ticks this on the escalate form.",
    )
    at_tier = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        related_name="rules_watching",
        null=True,
        blank=True,
        help_text="Only while the incident sits at this tier (the first tier "
        "until it is escalated).",
    )
    open_over_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Holds once the incident has been at its tier (or open, "
        "without a tier condition) longer than this.",
    )
    min_customers_affected = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    refund_over = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Holds when the refund asked for is above this amount.",
    )
    min_port_in_rejections = models.PositiveSmallIntegerField(null=True, blank=True)
    sla_breach_within_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Holds when the resolution deadline is this close and not "
        "yet passed. 004 says only “before breach”; 000's two hours is the "
        "shipped lead (CONFLICT-24).",
    )
    target_tiers = models.ManyToManyField(Tier, blank=True, related_name="rules")
    targets_next_tier = models.BooleanField(
        default=False, help_text="Also the tier after the incident's current one."
    )
    needs_approval = models.BooleanField(
        default=False, help_text="A manager approves before the tier sees it."
    )
    urgency = models.CharField(
        max_length=10, choices=Urgency.choices, default=Urgency.MEDIUM
    )
    respond_within_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The seed's time frame (0 = immediately); shortens the "
        "tier's acknowledgement target when set.",
    )
    is_time_based = models.BooleanField(
        "automatic",
        default=False,
        help_text="The sweep evaluates it every minute and escalates by itself.",
    )
    stops_customer_contact = models.BooleanField(
        default=False,
        help_text="While an escalation this rule matched is open, no customer "
        "message leaves (a manager may send one anyway, giving the reason): "
        "e.g. a legal threat, which the fleet playbook says not to engage.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["policy", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "key"], name="%(app_label)s_%(class)s_key_unique"
            ),
            models.CheckConstraint(
                condition=Q(urgency__in=Urgency.values),
                name="%(app_label)s_%(class)s_urgency_valid",
            ),
            models.CheckConstraint(
                condition=Q(flag__in=Flag.values),
                name="%(app_label)s_%(class)s_flag_valid",
            ),
        ]

    def __str__(self):
        return self.name


class PreEscalationCheck(models.Model):
    """Something to confirm before escalating.

    From the carrier escalation guide's DON'T list and the fleet escalation
    playbook's checklist.
    """

    policy = models.ForeignKey(
        Policy, on_delete=models.PROTECT, related_name="pre_escalation_checks"
    )
    text = models.CharField(max_length=200)
    source = models.CharField(max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["policy", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "text"], name="%(app_label)s_%(class)s_once"
            )
        ]

    def __str__(self):
        return self.text
