"""Messages to every audience, and the replies that come back."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .parties import ExternalParty
from .templates import Audience, Channel, MessageTemplateVersion, Stage


class Message(models.Model):
    """One message about an incident, from draft to delivery.

    The body is the rendered snapshot: what was (or will be) sent, whatever
    happens to the template afterwards.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        REJECTED = "rejected", "Rejected"
        SCHEDULED = "scheduled", "Scheduled"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Suppressed (duplicate)"
        CANCELLED = "cancelled", "Cancelled"
        WITHDRAWN = "withdrawn", "Withdrawn"

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, related_name="messages"
    )
    template_version = models.ForeignKey(
        MessageTemplateVersion,
        on_delete=models.PROTECT,
        related_name="messages",
        null=True,
        blank=True,
    )
    audience = models.CharField(max_length=20, choices=Audience.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    stage = models.CharField(max_length=20, choices=Stage.choices)
    situation = models.CharField(max_length=40, blank=True)
    follow_up_number = models.PositiveSmallIntegerField(null=True, blank=True)
    party = models.ForeignKey(
        ExternalParty,
        on_delete=models.PROTECT,
        related_name="messages",
        null=True,
        blank=True,
    )
    recipients = models.JSONField(
        default=list, help_text="E-mail addresses, or the chat channel."
    )
    # Customers get one e-mail each; a retry skips those already sent, so
    # nobody gets the same message twice.
    delivered_to = models.JSONField(default=list, blank=True)
    # The addresses a worker is handing to the mail server right now. Left
    # set by a worker that died mid-send, they move to in_doubt_to.
    handing_over_to = models.JSONField(default=list, blank=True)
    # Addresses that may or may not have the message (a worker died handing
    # it over): never sent again by the portal; the incident page names them.
    in_doubt_to = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices)
    status_reason = models.CharField(max_length=300, blank=True)
    renders_on_send = models.BooleanField(
        default=False,
        help_text="Written by the portal from its template and not edited by "
        "anyone: rendered again from the incident when a manager approves it "
        "and when it leaves, so it never states what has since changed.",
    )
    override_reason = models.CharField(
        max_length=500,
        blank=True,
        help_text="Why a manager let it leave while the incident's security "
        "response waits for Legal.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="messages_written",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="messages_decided",
        null=True,
        blank=True,
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    send_after = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("send_message", "Can compose and send incident messages"),
            ("approve_message", "Can approve or reject external messages"),
        ]
        indexes = [
            # messages_due: queued messages whose next attempt has come.
            models.Index(fields=["status", "next_attempt_at"], name="message_due_idx"),
            # approval_queue and the incident page's message list.
            models.Index(
                fields=["incident", "-created_at"], name="message_incident_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    status__in=[
                        "draft",
                        "awaiting_approval",
                        "rejected",
                        "scheduled",
                        "queued",
                        "sending",
                        "sent",
                        "failed",
                        "suppressed",
                        "cancelled",
                        "withdrawn",
                    ]
                ),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(sent_at__isnull=True) | Q(status="sent"),
                name="%(app_label)s_%(class)s_sent_at_only_when_sent",
            ),
        ]

    def __str__(self):
        summary = self.subject or self.body[:40]
        return f"{self.get_audience_display()} {self.get_channel_display()}: {summary}"


class Reply(models.Model):
    """A reply logged from a customer, partner or vendor."""

    class Kind(models.TextChoices):
        REPLY = "reply", "Reply"
        CONFIRMED = "confirmed", "Customer confirmed it works"

    class From(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        PARTNER = "partner", "Partner"
        VENDOR = "vendor", "Vendor"

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, related_name="replies"
    )
    sender_kind = models.CharField(max_length=20, choices=From.choices)
    party = models.ForeignKey(
        ExternalParty,
        on_delete=models.PROTECT,
        related_name="replies",
        null=True,
        blank=True,
    )
    sender_name = models.CharField(max_length=120, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default="reply")
    text = models.TextField()
    received_at = models.DateTimeField()
    logged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="replies_logged",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "id"]
        verbose_name_plural = "replies"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="reply") | Q(sender_kind="customer"),
                name="%(app_label)s_%(class)s_only_customers_confirm",
            )
        ]

    def __str__(self):
        return f"{self.get_sender_kind_display()} reply on {self.received_at:%Y-%m-%d}"
