"""Communication plans of major incidents: who is told what, by whom, when."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from .incident import Incident


class PlanSection(models.TextChoices):
    """The six sections of the communication plan template, in their order."""

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
    """A major incident's customer communication plan.

    From the communication plan template.
    """

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
