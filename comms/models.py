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
    # Credits and refunds (issue 12): sent by the credit approval, not picked
    # for any other message.
    CREDIT_APPROVED = "credit_approved", "A credit or refund was approved"
    # Issue 13: only once Legal approved it (incidents SecurityResponse).
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
    channel = models.CharField(max_length=20, choices=Channel.choices)
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
                condition=Q(channel__in=Channel.values),
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


class ExternalParty(models.Model):
    """A partner (carrier) or vendor the support team depends on."""

    class Kind(models.TextChoices):
        PARTNER = "partner", "Partner"
        VENDOR = "vendor", "Vendor"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=120, unique=True)
    support_email = models.EmailField()
    escalation_contact = models.CharField(max_length=120, blank=True)
    escalation_email = models.EmailField(blank=True)
    other_contacts = models.TextField(
        blank=True,
        help_text="Further addresses of this party that may receive our "
        "messages, one per line.",
    )
    domains = models.TextField(
        blank=True,
        help_text="Mail domains of this party, one per line (e.g. connectx.com): "
        "any address there may receive its messages. Messages to any other "
        "address are refused, so a customer is never written to as a partner.",
    )
    account_ref = models.CharField("our account reference", max_length=80, blank=True)
    ack_hours = models.PositiveSmallIntegerField(
        "contracted acknowledgement (hours)", default=4
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name_plural = "external parties"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["partner", "vendor"]),
                name="%(app_label)s_%(class)s_kind_valid",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display().lower()})"

    def accepts_address(self, address: str) -> bool:
        """Return whether ``address`` is one of this party's own contacts."""
        address = address.strip().lower()
        contacts = {
            self.support_email.lower(),
            self.escalation_email.lower(),
            *(line.strip().lower() for line in self.other_contacts.splitlines()),
        }
        if address in contacts - {""}:
            return True
        domain = address.rpartition("@")[2]
        return domain in {
            line.strip().lower().lstrip("@") for line in self.domains.splitlines()
        } - {""}


class ChatRoute(models.Model):
    """Where an incident's chat messages go, and who gets pinged (000 2B).

    The most specific matching route wins: priority, then systemic, then
    category; a route with no condition is the fallback.
    """

    priority = models.CharField(max_length=2, choices=Priority.choices, blank=True)
    is_systemic = models.BooleanField(
        default=False, help_text="Only for systemic incidents."
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        related_name="chat_routes",
        null=True,
        blank=True,
    )
    channel_name = models.CharField(max_length=80, help_text="e.g. #cs-urgent")
    ping = models.CharField(
        max_length=120, blank=True, help_text="e.g. @channel or @port-team"
    )
    webhook_url = models.URLField(
        blank=True,
        help_text="Incoming-webhook address of this channel; empty uses "
        "CHAT_WEBHOOK_URL.",
    )

    class Meta:
        ordering = ["priority", "-is_systemic", "category__name"]

    def __str__(self):
        return f"{self.channel_name} {self.ping}".strip()


class DeliveryRule(models.Model):
    """How external messages leave: at once, as a draft, or after approval.

    The most specific matching rule wins (priority and systemic count);
    without a rule, messages a person sends go at once.
    """

    class Mode(models.TextChoices):
        AUTOMATIC = "automatic", "Send automatically"
        DRAFT = "draft", "Draft for the owner to send"
        APPROVAL = "approval", "Needs a manager's approval"

    audience = models.CharField(max_length=20, choices=Audience.choices)
    priority = models.CharField(max_length=2, choices=Priority.choices, blank=True)
    is_systemic = models.BooleanField(default=False)
    mode = models.CharField(max_length=20, choices=Mode.choices)

    class Meta:
        ordering = ["audience", "priority", "-is_systemic"]

    def __str__(self):
        scope = " ".join(
            filter(None, [self.priority, "systemic" if self.is_systemic else ""])
        )
        return f"{self.get_audience_display()} {scope}: {self.get_mode_display()}"


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
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    status = models.CharField(max_length=20, choices=Status.choices)
    status_reason = models.CharField(max_length=300, blank=True)
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


# --- Automation (issue 14): follow-up loops, replies by e-mail, signals ---


class FollowUpLoop(models.Model):
    """The recurring follow-up one audience (or one party) is owed.

    Opened, re-timed and stopped by comms' sweep from the incident's state;
    a logged reply pushes the next follow-up one cadence past the reply.
    """

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, related_name="follow_up_loops"
    )
    audience = models.CharField(max_length=20, choices=Audience.choices)
    party = models.ForeignKey(
        ExternalParty,
        on_delete=models.PROTECT,
        related_name="follow_up_loops",
        null=True,
        blank=True,
    )
    # The priority and policy the cadence was taken from, so a change of
    # either is found by one query and the loop re-timed.
    priority = models.CharField(max_length=2, choices=Priority.choices)
    policy = models.ForeignKey(
        "incidents.Policy", on_delete=models.PROTECT, related_name="+"
    )
    cadence_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: as needed (no automatic follow-up)."
    )
    started_at = models.DateTimeField()
    next_due_at = models.DateTimeField(null=True, blank=True)
    slots_fired = models.PositiveIntegerField(default=0)
    sent_count = models.PositiveIntegerField(
        default=0, help_text="Follow-ups that went out (or wait to go out)."
    )
    unanswered_count = models.PositiveIntegerField(
        default=0, help_text="Follow-ups sent since the party last replied."
    )
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_reply_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["next_due_at", "id"]
        permissions = [
            ("view_operations", "Can see the automation operations page"),
        ]
        indexes = [
            # The sweep: running loops whose next follow-up has come.
            models.Index(
                fields=["next_due_at"],
                condition=Q(stopped_at__isnull=True),
                name="loop_due_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "audience"],
                condition=Q(party__isnull=True),
                name="%(app_label)s_%(class)s_one_per_audience",
            ),
            models.UniqueConstraint(
                fields=["incident", "audience", "party"],
                condition=Q(party__isnull=False),
                name="%(app_label)s_%(class)s_one_per_party",
            ),
            models.CheckConstraint(
                condition=Q(party__isnull=True)
                | Q(audience__in=[Audience.PARTNER, Audience.VENDOR]),
                name="%(app_label)s_%(class)s_party_only_external",
            ),
        ]

    def __str__(self):
        who = self.party.name if self.party_id else self.get_audience_display()
        return f"{who} follow-ups on incident {self.incident_id}"

    @property
    def is_running(self) -> bool:
        return self.stopped_at is None


class FollowUpSlot(models.Model):
    """One follow-up of a loop; the unique (loop, number) makes it fire once."""

    loop = models.ForeignKey(
        FollowUpLoop, on_delete=models.PROTECT, related_name="slots"
    )
    number = models.PositiveIntegerField()
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField()
    missed = models.PositiveIntegerField(
        default=0, help_text="Slots that passed unfired (downtime) and were merged."
    )
    message = models.ForeignKey(
        Message, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["loop", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["loop", "number"], name="%(app_label)s_%(class)s_once"
            )
        ]

    def __str__(self):
        return f"slot {self.number} of {self.loop}"


class SweepHeartbeat(models.Model):
    """When the sweep last ran, so the operations page can tell it is alive.

    One row (pk 1), written by comms' due work on every real sweep.
    """

    last_sweep_at = models.DateTimeField()
    summary = models.JSONField(default=dict, blank=True)

    def __str__(self):
        return f"last sweep {self.last_sweep_at:%Y-%m-%d %H:%M:%S}"


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
