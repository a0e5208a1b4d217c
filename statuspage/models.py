"""Public status pages: their components, what is posted on them, who reads.

What the public reads is posted from an incident as a customer message on
the status-page channel, so it passes the same approval and security rules
as an e-mail to many customers, and the approved words are the posted ones.
"""

import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            f"“{value}” is not a time zone; use a name such as Europe/Berlin.",
            code="bad_time_zone",
        )


class Impact(models.TextChoices):
    """How badly a component is affected, mildest first."""

    OPERATIONAL = "operational", "Operational"
    MAINTENANCE = "maintenance", "Under maintenance"
    DEGRADED = "degraded", "Degraded performance"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"


IMPACT_ORDER = {value: n for n, value in enumerate(Impact.values)}


class PublicStatus(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class StatusPage(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(
        max_length=50,
        unique=True,
        help_text="The page's public address: /status/<slug>/.",
    )
    brand_text = models.CharField(
        max_length=60,
        help_text="Shown as the page's logo, e.g. “Fleet Manager”.",
    )
    intro = models.TextField(
        blank=True, help_text="One or two sentences under the title (public)."
    )
    policy = models.ForeignKey(
        "incidents.Policy",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="status_pages",
        help_text="Its incidents offer this page first when published.",
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Times on the page and in subscriber e-mails are shown here.",
    )
    host = models.CharField(
        max_length=253,
        blank=True,
        validators=[
            # A DNS name with a dot, not an address: the host middleware
            # looks up only such names.
            RegexValidator(
                r"^(?=.*[a-z-])[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
                "A host name such as status.example.com, lower case.",
            )
        ],
        help_text="Optional: a host name of its own (status.example.com). "
        "Requests for that host are answered with this page alone; add it to "
        "ALLOWED_HOSTS and point the name at the portal.",
    )
    is_live = models.BooleanField(
        default=True,
        help_text="Shown to the public. A page that is not live answers 404.",
    )
    updated_at = models.DateTimeField(
        auto_now=True, help_text="Changes with every post: caches key on it."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["host"],
                condition=~Q(host=""),
                name="statuspage_statuspage_host_unique",
            )
        ]

    def __str__(self):
        return self.name


class ComponentGroup(models.Model):
    page = models.ForeignKey(
        StatusPage, on_delete=models.CASCADE, related_name="groups"
    )
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["page", "position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["page", "name"], name="statuspage_group_unique_name"
            )
        ]

    def __str__(self):
        return self.name


class Component(models.Model):
    page = models.ForeignKey(
        StatusPage, on_delete=models.CASCADE, related_name="components"
    )
    group = models.ForeignKey(
        ComponentGroup,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="components",
    )
    name = models.CharField(max_length=100)
    description = models.CharField(
        max_length=200, blank=True, help_text="Public: what it does for customers."
    )
    position = models.PositiveSmallIntegerField(default=0)
    categories = models.ManyToManyField(
        "incidents.Category",
        blank=True,
        related_name="status_components",
        help_text="Incidents of these categories pre-select this component when "
        "published.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["page", "position", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["page", "name"], name="statuspage_component_unique_name"
            )
        ]

    def __str__(self):
        return self.name


class Publication(models.Model):
    """An incident, or planned maintenance, as the public sees it.

    Its impact, public status and components are those of its latest posted
    update, kept here so the public page reads one row per publication.
    """

    class Kind(models.TextChoices):
        INCIDENT = "incident", "Incident"
        MAINTENANCE = "maintenance", "Scheduled maintenance"

    page = models.ForeignKey(
        StatusPage, on_delete=models.CASCADE, related_name="publications"
    )
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="publications",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.INCIDENT)
    title = models.CharField(max_length=200, help_text="Public.")
    components = models.ManyToManyField(Component, related_name="publications")
    impact = models.CharField(
        max_length=20, choices=Impact.choices, default=Impact.OPERATIONAL
    )
    status = models.CharField(
        max_length=20, choices=PublicStatus.choices, default=PublicStatus.INVESTIGATING
    )
    starts_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the public first saw it, or the maintenance window opens.",
    )
    ends_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When it was resolved, or the maintenance window closes.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["page", "incident"],
                condition=Q(incident__isnull=False),
                name="statuspage_one_publication_per_incident_and_page",
            ),
            models.CheckConstraint(
                condition=Q(kind="maintenance") | Q(incident__isnull=False),
                name="statuspage_incident_publication_has_incident",
            ),
        ]
        indexes = [models.Index(fields=["page", "ends_at"])]

    def __str__(self):
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status not in (PublicStatus.RESOLVED, PublicStatus.COMPLETED)


class PublicUpdate(models.Model):
    """One post on a publication. It is public once ``posted_at`` is set."""

    publication = models.ForeignKey(
        Publication, on_delete=models.CASCADE, related_name="updates"
    )
    message = models.OneToOneField(
        "comms.Message",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="public_update",
        help_text="The status-page message this was posted from (its approval "
        "and delivery are the message's).",
    )
    status = models.CharField(max_length=20, choices=PublicStatus.choices)
    impact = models.CharField(max_length=20, choices=Impact.choices)
    components = models.ManyToManyField(Component, related_name="updates")
    body = models.TextField(help_text="Public.")
    posted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-posted_at", "-id"]

    def __str__(self):
        return f"{self.get_status_display()}: {self.body[:40]}"


def new_subscriber_token() -> str:
    return secrets.token_urlsafe(24)


class Subscriber(models.Model):
    """Someone who asked for a page's updates by e-mail (double opt-in)."""

    page = models.ForeignKey(
        StatusPage, on_delete=models.CASCADE, related_name="subscribers"
    )
    email = models.EmailField(max_length=254)
    components = models.ManyToManyField(
        Component,
        blank=True,
        related_name="subscribers",
        help_text="Empty: every component.",
    )
    token = models.CharField(
        max_length=64, unique=True, default=new_subscriber_token, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(
        null=True, blank=True, help_text="The mail server refused the address."
    )

    class Meta:
        ordering = ["page", "email"]
        constraints = [
            models.UniqueConstraint(
                fields=["page", "email"], name="statuspage_one_subscription_per_page"
            )
        ]

    def __str__(self):
        return self.email

    @property
    def is_active(self) -> bool:
        return (
            self.confirmed_at is not None
            and self.unsubscribed_at is None
            and self.bounced_at is None
        )


class SubscriberNotice(models.Model):
    """One subscriber's e-mail about one update: made once, sent once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENDING = "sending", "Being handed to the mail server"
        SENT = "sent", "Sent"
        IN_DOUBT = "in_doubt", "Sent or not: the worker stopped mid-send"
        REFUSED = "refused", "Refused by the mail server"

    update = models.ForeignKey(
        PublicUpdate, on_delete=models.CASCADE, related_name="notices"
    )
    subscriber = models.ForeignKey(
        Subscriber, on_delete=models.CASCADE, related_name="notices"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["update", "subscriber"], name="statuspage_one_notice_each"
            )
        ]
        indexes = [models.Index(fields=["update", "status"])]

    def __str__(self):
        return f"{self.subscriber} · {self.get_status_display()}"
