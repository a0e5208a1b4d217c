"""The incident itself, the customers it touches, its action items and journey."""

import datetime as dt

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Case, F, Q, When
from django.db.models.functions import Least

from portal.reversing import url_for

from .customers import Customer, Signal
from .policy import Category, Policy, Priority, SeverityCriterion


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


# Open and not yet resolved: someone still owes work on it.
UNRESOLVED_STATUSES = (
    IncidentStatus.NEW,
    IncidentStatus.INVESTIGATING,
    IncidentStatus.WAITING_PARTNER,
    IncidentStatus.WAITING_VENDOR,
    IncidentStatus.WAITING_CUSTOMER,
    IncidentStatus.FIX_IN_PROGRESS,
    IncidentStatus.MONITORING,
)


def next_deadline() -> Case:
    """The deadline an incident runs to next: the first response while none
    was sent (or the resolution, if sooner), then the resolution."""
    return Case(
        When(
            first_response_at__isnull=True,
            then=Least("first_response_due_at", "resolution_due_at"),
        ),
        default=F("resolution_due_at"),
    )


class Incident(models.Model):
    Status = IncidentStatus
    ServiceStatus = ServiceStatus
    Sentiment = Sentiment

    CLOSED_STATUSES = (Status.CLOSED, Status.CLOSED_PENDING)
    UNRESOLVED_STATUSES = UNRESOLVED_STATUSES
    OPEN_STATUSES = (*UNRESOLVED_STATUSES, Status.RESOLVED)

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
        help_text="Where known: revenue lost or put at risk by the incident. "
        "The metrics add it up for systemic incidents.",
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
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="commanded_incidents",
        null=True,
        blank=True,
        help_text="Who leads a Sev 1's war room; the owner keeps the case.",
    )
    war_room_url = models.URLField(
        blank=True, help_text="The call everyone working a Sev 1 joins."
    )
    war_room_opened_at = models.DateTimeField(null=True, blank=True)
    # When the portal last called the war room's status round.
    war_room_round_at = models.DateTimeField(null=True, blank=True)
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
    # Closure: set by resolving and by the archive sweep.
    monitoring_ends_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("change_incident_status", "Can move an incident through its statuses"),
            ("assign_incident", "Can change an incident's owner"),
            ("reopen_incident", "Can reopen a closed incident"),
            ("record_first_response", "Can record the first customer response"),
            (
                "close_during_monitoring",
                "Can close an incident before its monitoring window ends",
            ),
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
            # incidents_owned_by (My work): someone's unresolved incidents,
            # nearest running deadline first, read from the index in order.
            models.Index(
                "owner",
                next_deadline(),
                "id",
                condition=Q(status__in=UNRESOLVED_STATUSES),
                name="incident_owner_next_due_idx",
            ),
            # unassigned_incidents (My work): nobody's, nearest deadline first.
            models.Index(
                fields=["resolution_due_at", "id"],
                condition=Q(owner__isnull=True, status__in=UNRESOLVED_STATUSES),
                name="incident_unowned_due_idx",
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
        return url_for("incidents:detail", self.pk)

    @property
    def next_war_room_round_at(self):
        """When the portal calls the war room's next status round, or None."""
        minutes = self.policy.war_room_status_minutes
        if not (self.war_room_opened_at and minutes):
            return None
        last = self.war_room_round_at or self.war_room_opened_at
        return last + dt.timedelta(minutes=minutes)

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
    # A post-mortem's actions say what they improve (carrier communication
    # playbook, part 8).
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
    # Post-mortem actions: the post-mortem that agreed them and the person who
    # owns them, whose home page lists them once overdue.
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
