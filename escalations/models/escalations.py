"""Escalations themselves, their bug reports, and the ledger that makes each
scheduled step fire once."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from incidents.models import Incident

from .paths import PATH_FIELDS, PATH_SITUATIONS, NoteSentiment, Path, Urgency
from .routing import EscalationRule, Tier


class EscalationStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    RETURNED = "returned", "Returned to sender"
    ENDED = "ended", "Ended with the incident"


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
    # A rule that matched stops customer contact while this is open.
    stops_customer_contact = models.BooleanField(default=False)
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    sentiment = models.CharField(
        max_length=20, choices=NoteSentiment.choices, default=NoteSentiment.NEUTRAL
    )
    # The generic note (the carrier escalation guide's escalation note).
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
    refund_amount = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The refund the customer asks for, if any, as the agent typed "
        "it: the decider sees it beside the note.",
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
    ended_from = models.CharField(
        max_length=20,
        blank=True,
        help_text="The status it had when its incident closed; a reopening "
        "puts it back there.",
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
            # tier_queue: the escalations waiting at a tier, read in the
            # queue's order, so the page reads 26 rows, not the tier's all.
            models.Index(
                fields=["to_tier", "reached_tier_at", "id"],
                condition=Q(
                    status__in=("requested", "approved", "acknowledged"),
                    reached_tier_at__isnull=False,
                ),
                name="escalation_tier_waiting_idx",
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
    def customer_situation(self) -> str:
        """The library's situation for telling the customer of this path."""
        return PATH_SITUATIONS.get(self.path, "")

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
    """A bug report, filed with an Engineering or Tier 3 escalation.

    From the fleet escalation playbook.
    """

    class Severity(models.TextChoices):
        SEV1 = "sev1", "Sev 1"
        SEV2 = "sev2", "Sev 2"
        SEV3 = "sev3", "Sev 3"
        SEV4 = "sev4", "Sev 4"

    class BugPriority(models.TextChoices):
        # The fleet escalation playbook's bug priorities: P0 is critical
        # there, unlike incidents' P1, so they are named by level here.
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
        # Automation rules
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
