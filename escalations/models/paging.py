"""Pages sent to a tier's on-call tool, one row per escalation and action."""

from django.db import models
from django.db.models import Q


class PagerKind(models.TextChoices):
    DEFAULT = "", "The portal's default (ESCALATION_PAGER_BACKEND)"
    PAGERDUTY = "pagerduty", "PagerDuty (Events API v2)"
    HTTP = "http", "HTTP webhook (JSON POST)"


class PageDelivery(models.Model):
    """One call to a pager: trigger when paged, acknowledge when the tier
    takes the escalation, resolve when it ends. Made once per escalation,
    episode and action; retried with a doubling delay until it is accepted."""

    class Action(models.TextChoices):
        TRIGGER = "trigger", "Trigger"
        ACKNOWLEDGE = "acknowledge", "Acknowledge"
        RESOLVE = "resolve", "Resolve"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Accepted by the pager"
        FAILED = "failed", "Gave up"

    escalation = models.ForeignKey(
        "escalations.Escalation", on_delete=models.CASCADE, related_name="pages"
    )
    tier = models.ForeignKey(
        "escalations.Tier", on_delete=models.CASCADE, related_name="pages"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    # A reopened incident restores its escalation, which may page again: each
    # trigger after a resolve opens a new episode of the same alert key.
    episode = models.PositiveSmallIntegerField(default=1)
    dedup_key = models.CharField(max_length=100)
    subject = models.CharField(max_length=300, blank=True)
    text = models.TextField(blank=True)
    contact = models.CharField(max_length=120, blank=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "page deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["escalation", "episode", "action"],
                name="escalations_one_page_each",
            ),
            models.CheckConstraint(
                condition=Q(sent_at__isnull=True) | Q(status="sent"),
                name="escalations_page_sent_at_only_when_sent",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.get_action_display()} {self.dedup_key}"
