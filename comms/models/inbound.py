"""Mail that arrives for an incident, matched or waiting for a person."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .messages import Reply


class InboundMail(models.Model):
    """An e-mail that reached the portal, matched to its incident or not.

    Nothing is dropped: mail that cannot be threaded waits on the triage
    list until a person attaches it to an incident or sets it aside.
    """

    class Source(models.TextChoices):
        SMTP = "smtp", "SMTP receiver"
        WEBHOOK = "webhook", "Inbound-mail webhook"

    class Status(models.TextChoices):
        MATCHED = "matched", "Landed on its incident"
        UNMATCHED = "unmatched", "Waiting for triage"
        DISMISSED = "dismissed", "Set aside"

    source = models.CharField(max_length=10, choices=Source.choices)
    message_id = models.CharField(max_length=300, blank=True)
    in_reply_to = models.CharField(max_length=300, blank=True)
    references = models.TextField(blank=True)
    from_address = models.CharField(max_length=320)
    from_name = models.CharField(max_length=200, blank=True)
    to_addresses = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    text = models.TextField(blank=True)
    received_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices)
    matched_by = models.CharField(
        max_length=40, blank=True, help_text="Header, reply address or a person."
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        related_name="inbound_mail",
        null=True,
        blank=True,
    )
    reply = models.OneToOneField(
        Reply, on_delete=models.PROTECT, related_name="mail", null=True, blank=True
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "inbound e-mail"
        verbose_name_plural = "inbound e-mail"
        permissions = [
            ("triage_inbound_mail", "Can attach or set aside unmatched e-mail"),
        ]
        indexes = [
            models.Index(fields=["status", "-received_at"], name="inbound_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["matched", "unmatched", "dismissed"]),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            # A provider retrying a webhook, or a resent SMTP delivery, must
            # not log the same reply twice.
            models.UniqueConstraint(
                fields=["message_id"],
                condition=~Q(message_id=""),
                name="%(app_label)s_%(class)s_once_per_message_id",
            ),
        ]

    def __str__(self):
        return f"{self.from_address}: {self.subject or '(no subject)'}"
