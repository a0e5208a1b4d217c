"""Post-mortems: the written review of a finished incident and its timeline rows."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from .incident import Incident
from .timeline import TimelineEvent


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
    """The moments a post-mortem's timeline names, in their order.

    From the carrier communication playbook's post-mortem (part 8).
    """

    DETECTED = "detected", "Issue first detected"
    INTERNAL_ALERT = "internal_alert", "Internal alert sent"
    CUSTOMER_NOTIFIED = "customer_notified", "Customer notified"
    ESCALATED = "escalated", "Escalated"
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
