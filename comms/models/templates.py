"""The template library: audiences, channels, stages, situations, and each
template with its versions."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from incidents.models import Category, Priority


class Audience(models.TextChoices):
    INTERNAL = "internal", "Internal"
    CUSTOMER = "customer", "Customer"
    PARTNER = "partner", "Partner"
    VENDOR = "vendor", "Vendor"


class Channel(models.TextChoices):
    CHAT = "chat", "Chat"
    EMAIL = "email", "E-mail"
    NOTE = "note", "Internal note"
    STATUS_PAGE = "status_page", "Status page"


# A status page post is written on the incident's Status page card, from the
# customer summary, not from the template library.
TEMPLATE_CHANNELS = [c for c in Channel.choices if c[0] != Channel.STATUS_PAGE]


class Stage(models.TextChoices):
    CREATION = "creation", "Creation"
    FOLLOW_UP = "follow_up", "Follow-up"
    ESCALATION = "escalation", "Escalation"
    RESOLUTION = "resolution", "Resolution"
    CLOSURE = "closure", "Closure"
    AUTO_CLOSE = "auto_close", "Auto-close"
    POST_INCIDENT = "post_incident", "Post-incident"


class Situation(models.TextChoices):
    """Narrower cases a template may be written for (empty means any)."""

    ANY = "", "Any"
    PROACTIVE = "proactive", "Detected before the customer noticed"
    MULTIPLE_CONTACTS = "multiple_contacts", "After multiple customer contacts"
    OUTAGE_RESTORED = "outage_restored", "Outage restored"
    WAITING_EXTERNAL = "waiting_external", "Waiting on a partner or vendor"
    NO_CUSTOMER_REPLY = "no_customer_reply", "Customer has not replied"
    SYSTEMIC = "systemic", "Systemic incident"
    CUSTOMER_CONFIRMED = "customer_confirmed", "Customer confirmed the fix"
    RESOLVED_NO_REPLY = "resolved_no_reply", "Resolved, no reply"
    WAITING_ON_CUSTOMER = "waiting_on_customer", "Waiting on the customer"
    TO_L2 = "to_l2", "Escalated to L2"
    TO_ENGINEERING = "to_engineering", "Escalated to engineering"
    TO_TRUST_SAFETY = "to_trust_safety", "Escalated to trust & safety"
    TO_CARRIER = "to_carrier", "Escalated to the carrier"
    TO_MANAGER = "to_manager", "Escalated to a manager"
    TO_EXECUTIVE = "to_executive", "Escalated to an executive"
    URGENT = "urgent", "Urgent, many customers"
    ESCALATION_SLA_MISSED = "escalation_sla_missed", "Escalated team missed its SLA"
    # Credits and refunds: sent by the credit approval, not picked for any
    # other message.
    CREDIT_APPROVED = "credit_approved", "A credit or refund was approved"
    CREDIT_CANCELLED = (
        "credit_cancelled",
        "An approved credit or refund was cancelled",
    )
    # Security incidents: sent only once Legal approved it (incidents
    # SecurityResponse).
    SECURITY_NOTICE = "security_notice", "Security incident notice (Legal approved)"


class MessageTemplate(models.Model):
    """One kind of message; its wording lives in immutable versions."""

    key = models.SlugField(
        max_length=80,
        unique=True,
        help_text="Stable name used by rules and reports, e.g. customer-follow-up-1.",
    )
    name = models.CharField(max_length=150)
    description = models.TextField(
        blank=True, help_text="When to use it, for the person picking a template."
    )
    audience = models.CharField(max_length=20, choices=Audience.choices)
    channel = models.CharField(max_length=20, choices=TEMPLATE_CHANNELS)
    stage = models.CharField(max_length=20, choices=Stage.choices)
    follow_up_from = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="First follow-up number this wording is for (tone rises with "
        "the number). Empty: any.",
    )
    follow_up_to = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Last follow-up number; empty means no upper limit (4+).",
    )
    priority = models.CharField(
        max_length=2,
        choices=Priority.choices,
        blank=True,
        help_text="Only for this priority; empty means any.",
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        related_name="message_templates",
        null=True,
        blank=True,
        help_text="Only for this category; empty means any.",
    )
    situation = models.CharField(
        max_length=40, choices=Situation.choices, blank=True, default=""
    )
    is_active = models.BooleanField(default=True)
    current_version = models.ForeignKey(
        "MessageTemplateVersion",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["stage", "audience", "follow_up_from", "key"]
        indexes = [
            # template_for: candidates for one stage, audience and channel.
            models.Index(
                fields=["stage", "audience", "channel", "is_active"],
                name="template_lookup_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(audience__in=Audience.values),
                name="%(app_label)s_%(class)s_audience_valid",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=[value for value, _ in TEMPLATE_CHANNELS]),
                name="%(app_label)s_%(class)s_channel_valid",
            ),
            models.CheckConstraint(
                condition=Q(stage__in=Stage.values),
                name="%(app_label)s_%(class)s_stage_valid",
            ),
            models.CheckConstraint(
                condition=Q(follow_up_to__isnull=True)
                | Q(follow_up_from__isnull=True)
                | Q(follow_up_to__gte=F("follow_up_from")),
                name="%(app_label)s_%(class)s_follow_up_range",
                violation_error_message="The last follow-up number cannot be "
                "below the first.",
            ),
        ]

    def __str__(self):
        return self.name


class MessageTemplateVersion(models.Model):
    """The wording of a template at one point in time; never edited.

    Messages point at the version they were rendered from, so an edit in the
    library never changes what was sent.
    """

    template = models.ForeignKey(
        MessageTemplate, on_delete=models.PROTECT, related_name="versions"
    )
    number = models.PositiveIntegerField()
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="template_versions",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "number"],
                name="%(app_label)s_%(class)s_one_number",
            )
        ]

    def __str__(self):
        return f"{self.template} v{self.number}"
