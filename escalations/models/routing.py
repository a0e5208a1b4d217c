"""Tiers, routing rules, pre-escalation checks, escalations and bug reports.

Seeds: 002 (carrier escalation guide) for the carrier policy, 004 (fleet SaaS
escalation playbook) for the fleet policy. Where the two disagree on a
number, each policy keeps its own seed's value.
"""

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from incidents.models import Category, Incident, Policy, Priority, validate_time_zone

SEED_PRECEDENCE_HELP = (
    "Where the seeds disagree (e.g. 002 gives L2 24 h, 004 gives Tier 2 1 h), "
    "each policy's own seed wins: the carrier policy follows 002, the fleet "
    "policy 004."
)

# ---------------------------------------------------------------------------
# Working hours: "Mon-Fri 06:00-20:00, Sat 08:00-17:00"; empty = always.

_DAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
_SPAN = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+"
    r"(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$"
)


@dataclass(frozen=True)
class WorkingSpan:
    weekdays: frozenset[int]
    start: dt.time
    end: dt.time


def _clock_time(text: str) -> dt.time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours == 24 and minutes == 0:
        return dt.time.max
    return dt.time(hours, minutes)


def parse_working_hours(text: str) -> list[WorkingSpan]:
    """Return the spans of ``text``; raise ValidationError when unreadable."""
    spans = []
    for part in filter(None, (p.strip().lower() for p in text.split(","))):
        match = _SPAN.match(part)
        try:
            if not match:
                raise ValueError
            first = _DAYS[match["first"]]
            last = _DAYS[match["last"] or match["first"]]
            start, end = _clock_time(match["start"]), _clock_time(match["end"])
        except (KeyError, ValueError):
            raise ValidationError(
                "“%(part)s” is not a span like “Mon-Fri 06:00-20:00”.",
                code="bad_working_hours",
                params={"part": part},
            ) from None
        if first > last or start >= end:
            raise ValidationError(
                "“%(part)s” ends before it starts.",
                code="bad_working_hours",
                params={"part": part},
            )
        spans.append(WorkingSpan(frozenset(range(first, last + 1)), start, end))
    return spans


def validate_working_hours(value: str) -> None:
    parse_working_hours(value)


# ---------------------------------------------------------------------------
# Escalation paths: what each asks for (002 paths 1-5 and note templates, 004
# packages and the management template).


class Path(models.TextChoices):
    L2 = "l2", "L1 → L2 (senior support)"
    ENGINEERING = "engineering", "L1 → Engineering"
    TRUST_SAFETY = "trust_safety", "L1 → Trust & Safety"
    CARRIER = "carrier", "L1 → Carrier"
    URGENT = "urgent", "Urgent / critical"
    TIER1_TO_TIER2 = "tier1_to_tier2", "Tier 1 → Tier 2"
    TIER2_TO_TIER3 = "tier2_to_tier3", "Tier 2 → Tier 3 (engineering)"
    MANAGEMENT = "management", "Management"


@dataclass(frozen=True)
class PathField:
    name: str
    label: str
    required: bool = False
    choices: tuple[str, ...] = ()
    is_long: bool = True


PATH_FIELDS: dict[str, tuple[PathField, ...]] = {
    Path.L2: (),
    Path.ENGINEERING: (
        PathField(
            "environment",
            "Environment: customer id, device, app and OS versions",
            required=True,
        ),
        PathField("repro_steps", "Steps to reproduce", required=True),
        PathField("expected", "Expected behaviour", required=True),
        PathField("actual", "Actual behaviour", required=True),
        PathField("error_message", "Error message"),
        PathField("error_code", "Error code", is_long=False),
        PathField("error_at", "When the error happened", is_long=False),
    ),
    Path.TRUST_SAFETY: (
        PathField(
            "case_type",
            "Case type",
            required=True,
            choices=(
                "Suspension appeal",
                "Fraud review",
                "Security incident",
                "AUP review",
            ),
        ),
        PathField(
            "customer_statement",
            "The customer's statement, in their own words",
            required=True,
        ),
        PathField(
            "observations", "Your observations: context, tone, red flags", required=True
        ),
        PathField(
            "identity_verified_by", "Identity verified by (method)", is_long=False
        ),
        PathField(
            "identity_not_verified_because",
            "Or: identity not verified because",
            is_long=False,
        ),
    ),
    Path.CARRIER: (
        PathField(
            "carrier_issue",
            "Carrier issue",
            required=True,
            choices=("Port-in stuck", "Activation failure", "Network issue"),
        ),
        PathField("carrier_name", "Carrier", required=True, is_long=False),
        PathField("port_request_id", "Port request id", is_long=False),
        PathField(
            "attempts", "Attempt timeline (date → result, one per line)", required=True
        ),
        PathField("rejection_code", "Rejection code", is_long=False),
        PathField("rejection_reason", "Rejection reason", is_long=False),
        PathField("carrier_request", "What we ask the carrier to do", required=True),
    ),
    Path.URGENT: (
        PathField("why_urgent", "Why it is urgent", required=True),
        PathField("immediate_risk", "The immediate risk", required=True),
    ),
    Path.TIER1_TO_TIER2: (
        PathField("customer_impact", "Customer impact", required=True),
        PathField("error_message", "Error messages (text, codes)"),
        PathField("environment", "Environment: app version, OS version, device"),
        PathField("repro_steps", "Steps to reproduce"),
        PathField("logs", "Logs (last 100 lines)"),
        PathField(
            "frequency",
            "Frequency",
            required=True,
            choices=("One-time", "Recurring"),
        ),
        PathField("workaround", "Workaround"),
    ),
    Path.TIER2_TO_TIER3: (
        PathField(
            "root_cause_hypothesis", "Root cause analysis or hypothesis", required=True
        ),
        PathField("requested_action", "Requested action", required=True),
        PathField("environment", "Environment: app version, OS version, device"),
        PathField("repro_steps", "Steps to reproduce"),
    ),
    Path.MANAGEMENT: (
        PathField("situation", "Situation", required=True),
        PathField("customer_requests", "What the customer requests", required=True),
        PathField("risk", "Risk (renewal, churn, reputation)", required=True),
        PathField("recommended_action", "Recommended action", required=True),
    ),
}

# Which customer escalation message each path uses (comms situations).
PATH_SITUATIONS = {
    Path.L2: "to_l2",
    Path.ENGINEERING: "to_engineering",
    Path.TRUST_SAFETY: "to_trust_safety",
    Path.CARRIER: "to_carrier",
    Path.URGENT: "urgent",
    Path.TIER1_TO_TIER2: "to_l2",
    Path.TIER2_TO_TIER3: "to_engineering",
    Path.MANAGEMENT: "to_manager",
}
# Paths on which a bug report may be filed (004).
BUG_REPORT_PATHS = {Path.ENGINEERING, Path.TIER2_TO_TIER3}

# The generic note every path asks for (002 escalation note template).
GENERIC_REQUIRED = (
    "summary",
    "customer_wants",
    "tried",
    "why",
    "recommended_resolution",
)


class Urgency(models.TextChoices):
    LOW = "low", "Low · standard queue"
    MEDIUM = "medium", "Medium · within 24 h"
    HIGH = "high", "High · within 4 h"
    CRITICAL = "critical", "Critical · immediately"


class NoteSentiment(models.TextChoices):
    # The incident's own sentiment values come first, so the note can start
    # from what the incident says.
    UNKNOWN = "unknown", "Unknown"
    NEUTRAL = "neutral", "Neutral"
    UNDERSTANDING = "understanding", "Understanding"
    CALM = "calm", "Calm"
    FRUSTRATED = "frustrated", "Frustrated"
    ANGRY = "angry", "Angry"
    THREATENING_CHURN = "threatening_churn", "Threatening to leave"


# ---------------------------------------------------------------------------


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
    on_call_top_priority_only = models.BooleanField(
        default=False, help_text="Page the on-call person for P1 incidents only."
    )
    on_call_contact = models.CharField(
        max_length=120, blank=True, help_text="Who or what the pager calls."
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="escalation_tiers"
    )
    member_groups = models.ManyToManyField(
        Group, blank=True, related_name="escalation_tiers"
    )
    chat_channel = models.CharField(max_length=80, blank=True)
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
        max_length=100, blank=True, help_text="Where the rule comes from, e.g. 002."
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
    """Something to confirm before escalating (002 DON'T list, 004 checklist)."""

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


class EscalationStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    RETURNED = "returned", "Returned to sender"


class Escalation(models.Model):
    """One incident handed to one tier, with the note the path asks for."""

    Status = EscalationStatus
    Path = Path
    Urgency = Urgency
    Sentiment = NoteSentiment
    OPEN_STATUSES = (Status.REQUESTED, Status.APPROVED, Status.ACKNOWLEDGED)

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="escalations"
    )
    path = models.CharField(max_length=20, choices=Path.choices)
    from_tier = models.ForeignKey(
        Tier,
        on_delete=models.PROTECT,
        related_name="escalations_out",
        null=True,
        blank=True,
    )
    to_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, related_name="escalations_in"
    )
    rule = models.ForeignKey(
        EscalationRule,
        on_delete=models.SET_NULL,
        related_name="escalations",
        null=True,
        blank=True,
        help_text="The automatic rule that raised it.",
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.REQUESTED
    )
    needs_approval = models.BooleanField(default=False)
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    sentiment = models.CharField(
        max_length=20, choices=NoteSentiment.choices, default=NoteSentiment.NEUTRAL
    )
    # The generic note (002).
    summary = models.TextField()
    issue_category = models.CharField(max_length=60, blank=True)
    first_reported_on = models.DateField(null=True, blank=True)
    related_tickets = models.CharField(max_length=200, blank=True)
    customer_wants = models.TextField(blank=True)
    tried = models.TextField(blank=True, help_text="Step → result, one per line.")
    why = models.TextField(blank=True)
    recommended_resolution = models.TextField(blank=True)
    path_details = models.JSONField(default=dict, blank=True)
    checks = models.JSONField(
        default=list,
        blank=True,
        help_text="The pre-escalation checks as confirmed or explained.",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="escalations_requested",
        null=True,
        blank=True,
        help_text="Empty when a rule raised it.",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="escalations_decided",
        null=True,
        blank=True,
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    reached_tier_at = models.DateTimeField(
        null=True, blank=True, help_text="When it entered the tier's queue."
    )
    ack_due_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="escalations_acknowledged",
        null=True,
        blank=True,
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="escalations_closed",
        null=True,
        blank=True,
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(
        blank=True, help_text="Why it was returned, or how it was resolved."
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("request_escalation", "Can escalate an incident to a tier"),
            ("approve_escalation", "Can approve or reject escalations"),
            ("work_escalation", "Can acknowledge, return and resolve escalations"),
        ]
        indexes = [
            # tier_queue: a tier's waiting escalations, oldest first.
            models.Index(
                fields=["to_tier", "status", "reached_tier_at"],
                name="escalation_queue_idx",
            ),
            # escalation_approvals / escalations_awaiting_approval_count.
            models.Index(
                fields=["status", "needs_approval", "created_at"],
                name="escalation_approval_idx",
            ),
            # incident_escalations: one incident's escalations.
            models.Index(fields=["incident", "-created_at"], name="escalation_inc_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=EscalationStatus.values),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(path__in=Path.values),
                name="%(app_label)s_%(class)s_path_valid",
            ),
            models.CheckConstraint(
                condition=Q(urgency__in=Urgency.values),
                name="%(app_label)s_%(class)s_urgency_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(decision_reason=""),
                name="%(app_label)s_%(class)s_rejection_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="returned") | ~Q(outcome=""),
                name="%(app_label)s_%(class)s_return_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["acknowledged", "resolved"])
                | Q(acknowledged_at__isnull=False),
                name="%(app_label)s_%(class)s_acknowledged_at_set",
            ),
        ]

    def __str__(self):
        return (
            f"Escalation {self.pk} of {self.incident.reference} to {self.to_tier.name}"
        )

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("escalations:incident_escalations", args=[self.incident_id])

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_waiting_for_tier(self) -> bool:
        """In the tier's queue and not yet acknowledged."""
        return self.reached_tier_at is not None and self.status in (
            EscalationStatus.REQUESTED,
            EscalationStatus.APPROVED,
        )

    @property
    def is_awaiting_approval(self) -> bool:
        return self.needs_approval and self.status == EscalationStatus.REQUESTED

    @property
    def state_label(self) -> str:
        """Return the state as the queue sees it (requested means two things)."""
        if self.is_awaiting_approval:
            return "Awaiting approval"
        if self.is_waiting_for_tier:
            return "In the tier's queue"
        return self.get_status_display()

    def path_fields(self) -> list[tuple[str, str]]:
        """Return the path's fields as (label, value), filled ones only."""
        return [
            (field.label, self.path_details.get(field.name, ""))
            for field in PATH_FIELDS.get(self.path, ())
            if self.path_details.get(field.name)
        ]


TRACKER_KEY_VALIDATOR = RegexValidator(
    r"^[A-Z][A-Z0-9]{1,9}-\d{1,9}$", "Tracker keys look like FLEET-5678."
)


class BugReport(models.Model):
    """004's bug report, filed with an Engineering or Tier 3 escalation."""

    class Severity(models.TextChoices):
        SEV1 = "sev1", "Sev 1"
        SEV2 = "sev2", "Sev 2"
        SEV3 = "sev3", "Sev 3"
        SEV4 = "sev4", "Sev 4"

    class BugPriority(models.TextChoices):
        # 004's bug priorities: P0 is critical there, unlike incidents' P1
        # (CONFLICT-21), so they are named by level here.
        CRITICAL = "critical", "Critical (P0)"
        HIGH = "high", "High (P1)"
        MEDIUM = "medium", "Medium (P2)"
        LOW = "low", "Low (P3)"

    class Frequency(models.TextChoices):
        ALWAYS = "always", "Always"
        SOMETIMES = "sometimes", "Sometimes"
        RARELY = "rarely", "Rarely"

    escalation = models.OneToOneField(
        Escalation, on_delete=models.PROTECT, related_name="bug_report"
    )
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    priority = models.CharField(max_length=10, choices=BugPriority.choices)
    component = models.CharField(max_length=80, blank=True)
    platform = models.CharField(max_length=80, blank=True)
    device = models.CharField(max_length=80, blank=True)
    affects_version = models.CharField(max_length=40, blank=True)
    description = models.TextField()
    expected = models.TextField()
    actual = models.TextField()
    steps = models.TextField()
    frequency = models.CharField(max_length=10, choices=Frequency.choices)
    reproduction_rate = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Percent of attempts that reproduce it."
    )
    workaround = models.TextField(blank=True, help_text="Or “None”.")
    customers_affected = models.PositiveIntegerField(default=1)
    is_business_blocked = models.BooleanField(default=False)
    has_data_loss_risk = models.BooleanField(default=False)
    errors = models.TextField(blank=True)
    logs = models.TextField(blank=True)
    attachments = models.TextField(
        blank=True, help_text="Links to screenshots or videos, one per line."
    )
    environment = models.CharField(
        max_length=200,
        blank=True,
        help_text="Network and backend, e.g. Wi-Fi, production.",
    )
    related_tickets = models.CharField(max_length=200, blank=True)
    labels = models.CharField(max_length=200, blank=True)
    assigned_team = models.CharField(max_length=80, blank=True)
    tracker_key = models.CharField(
        max_length=20, blank=True, validators=[TRACKER_KEY_VALIDATOR]
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="bug_reports",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reproduction_rate__isnull=True)
                | Q(reproduction_rate__lte=100),
                name="%(app_label)s_%(class)s_rate_percent",
            )
        ]

    def __str__(self):
        return self.tracker_key or self.title


class EscalationFiring(models.Model):
    """A claim on one slot of scheduled work, so it happens exactly once.

    Two sweeps racing for the same slot both try to insert the same key;
    the database keeps one.
    """

    class Kind(models.TextChoices):
        RULE = "rule", "Rule fired"
        REMINDER = "reminder", "Reminder"
        CHECK_IN = "check_in", "Customer check-in and team ping"
        MANAGER = "manager", "Manager notified"
        EXECUTIVE = "executive", "Executive notified"
        # Automation rules (issue 14)
        PARTY_SILENT = "party_silent", "Partner or vendor silent"
        SLA_AT_RISK = "sla_at_risk", "Deadline at risk"
        SLA_BREACHED = "sla_breached", "Deadline breached"
        NO_RESPONSE = "no_response", "No response"
        AUTO_CLOSE = "auto_close", "Auto-close step"
        AUTO_CLOSE_BLOCKED = "auto_close_blocked", "Auto-close refused, retry later"

    key = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="escalation_firings"
    )
    rule = models.ForeignKey(
        EscalationRule,
        on_delete=models.CASCADE,
        related_name="firings",
        null=True,
        blank=True,
    )
    escalation = models.ForeignKey(
        Escalation,
        on_delete=models.PROTECT,
        related_name="firings",
        null=True,
        blank=True,
    )
    slot = models.PositiveIntegerField(default=0)
    fired_at = models.DateTimeField()

    class Meta:
        ordering = ["fired_at", "id"]
        indexes = [
            # due_work: incidents a rule has not fired for yet.
            models.Index(fields=["rule", "incident"], name="firing_rule_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "rule",
                        "reminder",
                        "check_in",
                        "manager",
                        "executive",
                        "party_silent",
                        "sla_at_risk",
                        "sla_breached",
                        "no_response",
                        "auto_close",
                        "auto_close_blocked",
                    ]
                ),
                name="%(app_label)s_%(class)s_kind_valid",
            )
        ]

    def __str__(self):
        return self.key
