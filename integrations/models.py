"""Outbound webhooks: the endpoints an admin registers, and each delivery
of an event to one of them, with its answer."""

import secrets
import uuid

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q

from incidents.models import Incident


class WebhookEvent(models.TextChoices):
    """The events an endpoint can subscribe to (see docs/webhooks.md)."""

    INCIDENT_OPENED = "incident.opened", "Incident opened"
    INCIDENT_PRIORITY_CHANGED = "incident.priority_changed", "Priority changed"
    INCIDENT_STATUS_CHANGED = "incident.status_changed", "Status changed"
    INCIDENT_RESOLVED = "incident.resolved", "Incident resolved"
    INCIDENT_CLOSED = "incident.closed", "Incident closed"
    MESSAGE_SENT = "message.sent", "Message sent"
    ESCALATION_REQUESTED = "escalation.requested", "Escalation requested"
    ESCALATION_DECIDED = "escalation.decided", "Escalation decided"
    CREDIT_DECIDED = "credit.decided", "Credit decided"


# Sent from the admin to try an endpoint; nobody subscribes to it.
PING = "ping"
DELIVERY_EVENT_CHOICES = [*WebhookEvent.choices, (PING, "Test event (ping)")]

CHANGES_REACH_WORKERS = "Changes reach the task cluster's workers within a minute."


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def validate_event_names(value) -> None:
    """Refuse anything but a list of known event names."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("Pick the events as a list.", code="invalid_events")
    unknown = sorted(set(value) - set(WebhookEvent.values))
    if unknown:
        raise ValidationError(
            "Unknown events: %(unknown)s.",
            code="unknown_events",
            params={"unknown": ", ".join(unknown)},
        )


class WebhookEndpoint(models.Model):
    """A receiver of signed event notices, registered by an admin."""

    name = models.CharField(max_length=100)
    url = models.URLField(
        "URL",
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="Where the events are posted (http or https). Redirects are "
        "not followed.",
    )
    events = models.JSONField(
        default=list,
        validators=[validate_event_names],
        help_text=f"The events posted to this endpoint. {CHANGES_REACH_WORKERS}",
    )
    secret = models.CharField(
        max_length=100,
        default=new_secret,
        help_text="Signs every delivery; give it to the receiver so it can "
        "check the Switchboard-Signature header. Rotate it with the list's "
        "action.",
    )
    is_active = models.BooleanField(
        default=True,
        help_text="Off while paused: no new deliveries are made, and those "
        "waiting are held until it is resumed.",
    )
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(
        default=0, help_text="Failed tries in a row; a success resets it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "webhook endpoint"
        constraints = [
            models.CheckConstraint(
                condition=Q(paused_at__isnull=True) | Q(is_active=False),
                name="%(app_label)s_%(class)s_paused_only_when_inactive",
            ),
        ]

    def __str__(self):
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Accepted"
    FAILED = "failed", "Gave up"


class WebhookDelivery(models.Model):
    """One event posted (or to be posted) to one endpoint."""

    Status = DeliveryStatus

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    incident = models.ForeignKey(
        Incident,
        on_delete=models.PROTECT,
        related_name="webhook_deliveries",
        null=True,
        blank=True,
    )
    event = models.CharField(max_length=40, choices=DELIVERY_EVENT_CHOICES)
    # The same across retries and replays: receivers de-duplicate by it.
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    payload = models.JSONField()
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the sweep sends it (again), should no task have taken it by then.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    replay_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        related_name="replays",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # due_deliveries and stale claims: status first, then the time.
            models.Index(fields=["status", "next_attempt_at"], name="webhook_due_idx"),
            # The admin's deliveries of one endpoint, newest first.
            models.Index(
                fields=["endpoint", "-created_at"], name="webhook_endpoint_idx"
            ),
            # The admin's search by event id (a receiver's question).
            models.Index(fields=["event_id"], name="webhook_event_id_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(event__in=[value for value, _ in DELIVERY_EVENT_CHOICES]),
                name="%(app_label)s_%(class)s_event_valid",
            ),
            models.CheckConstraint(
                condition=Q(sent_at__isnull=True) | Q(status="sent"),
                name="%(app_label)s_%(class)s_sent_at_only_when_sent",
            ),
        ]

    def __str__(self):
        return f"{self.event} {self.event_id}"
