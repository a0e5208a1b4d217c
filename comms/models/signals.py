"""The monitoring signal API: integrations, their keys, and signal receipts."""

from django.db import models


class MonitoringIntegration(models.Model):
    """A monitoring system allowed to post signals, with its own token.

    Only a SHA-256 hash of the token is kept; the admin shows the token once
    when it is issued.
    """

    name = models.CharField(max_length=100, unique=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    token_hint = models.CharField(
        max_length=12, editable=False, help_text="The token's first characters."
    )
    is_active = models.BooleanField(default=True)
    rate_limit_per_minute = models.PositiveIntegerField(
        default=120, help_text="Signals accepted per minute; more get 429."
    )
    # The rate window: one row per integration, updated conditionally, so
    # the limit holds across every web worker without a shared cache.
    window_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    window_count = models.PositiveIntegerField(default=0, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class SignalKey(models.Model):
    """The incident a dedup key currently points at; locked while a signal lands."""

    key = models.CharField(max_length=200, unique=True)
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.key


class SignalReceipt(models.Model):
    """One signal a monitoring system posted, and what it did.

    The API only checks and queues a signal (202); a django-q2 task then
    opens or joins the incident, so intake stays fast under a burst.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for the cluster"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    integration = models.ForeignKey(
        MonitoringIntegration, on_delete=models.PROTECT, related_name="receipts"
    )
    signal = models.ForeignKey(
        "incidents.Signal", on_delete=models.PROTECT, related_name="receipts"
    )
    dedup_key = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        related_name="signal_receipts",
        null=True,
        blank=True,
    )
    opened_incident = models.BooleanField(default=False)
    description = models.TextField()
    title = models.CharField(max_length=200, blank=True)
    category = models.CharField(
        max_length=60, blank=True, help_text="The category slug the signal named."
    )
    requested_customers = models.JSONField(
        default=list, blank=True, help_text="Account ids or e-mails, as posted."
    )
    affected = models.JSONField(default=list, blank=True)
    unknown_customers = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["dedup_key", "-received_at"], name="signal_key_idx"),
            # The sweep and the operations page read the few receipts that
            # are not processed out of millions that are.
            models.Index(
                fields=["received_at"],
                name="signal_queued_idx",
                condition=models.Q(status="queued"),
            ),
            models.Index(
                fields=["received_at"],
                name="signal_failed_idx",
                condition=models.Q(status="failed"),
            ),
        ]

    def __str__(self):
        return f"{self.signal_id} {self.dedup_key}"
