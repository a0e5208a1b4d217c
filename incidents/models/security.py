"""Security incident response: phases, checklists, notifications, regulatory
clocks."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse

from .incident import Incident


class SecurityIncidentType(models.TextChoices):
    DATA_BREACH = "data_breach", "Data breach"
    ACCOUNT_COMPROMISE = "account_compromise", "Account compromise"
    VULNERABILITY_DISCLOSURE = "vulnerability_disclosure", "Vulnerability disclosure"
    DDOS = "ddos", "DDoS attack"
    MALWARE = "malware", "Malware"
    INSIDER_THREAT = "insider_threat", "Insider threat"


class SecurityPhaseKind(models.TextChoices):
    """The fleet escalation playbook's seven response steps, in their order."""

    IDENTIFY = "identify", "Identify"
    CONTAIN = "contain", "Contain"
    INVESTIGATE = "investigate", "Investigate"
    ERADICATE = "eradicate", "Eradicate"
    RECOVER = "recover", "Recover"
    NOTIFY = "notify", "Notify"
    LESSONS = "lessons", "Lessons learned"


class SecurityResponse(models.Model):
    """An incident run as a security incident: phases, clocks, Legal's word."""

    Type = SecurityIncidentType

    incident = models.OneToOneField(
        Incident, on_delete=models.PROTECT, related_name="security_response"
    )
    incident_type = models.CharField(
        max_length=30, choices=SecurityIncidentType.choices
    )
    detected_at = models.DateTimeField(
        help_text="Every phase and regulatory clock counts from here."
    )
    flagged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    flagged_at = models.DateTimeField()
    legal_approver = models.CharField(
        max_length=120,
        blank=True,
        help_text="Who in Legal approved the customer security notice.",
    )
    legal_note = models.TextField(
        blank=True, help_text="Who must be told, by when, and what may be said."
    )
    legal_approved_at = models.DateTimeField(null=True, blank=True)
    legal_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    # The written security incident report (004, step 3), for the
    # lessons-learned review and the regulators' notices.
    attack_vectors = models.TextField(
        blank=True, help_text="How the attacker got in, and what they used."
    )
    data_accessed = models.TextField(
        blank=True,
        help_text="Which data was reached, whose, and whether it left our systems.",
    )
    actions_taken = models.TextField(
        blank=True, help_text="What the team did to contain, fix and recover."
    )
    report_written_at = models.DateTimeField(null=True, blank=True)
    report_written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )

    class Meta:
        permissions = [
            ("flag_security_incident", "Can flag an incident as a security incident"),
            (
                "record_legal_approval",
                "Can record Legal's approval of a customer security notice",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(incident_type__in=SecurityIncidentType.values),
                name="%(app_label)s_%(class)s_type_valid",
            ),
        ]

    def __str__(self):
        return f"Security response to {self.incident.reference}"

    def get_absolute_url(self):
        return reverse("incidents:security", args=[self.incident_id])


class SecurityPhase(models.Model):
    """One of the seven security phases for one incident, with its deadline."""

    Kind = SecurityPhaseKind

    response = models.ForeignKey(
        SecurityResponse, on_delete=models.CASCADE, related_name="phases"
    )
    kind = models.CharField(max_length=20, choices=SecurityPhaseKind.choices)
    starts_at = models.DateTimeField()
    due_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Empty: set by the regulatory clocks the responder chooses.",
    )
    at_risk_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["response", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["response", "kind"], name="%(app_label)s_%(class)s_once"
            ),
        ]

    def __str__(self):
        return self.get_kind_display()


class SecurityPhaseTemplate(models.Model):
    """A phase every security incident runs: its window and its checklist.

    From the fleet escalation playbook (steps 1 to 7); a flagged incident
    copies the active phases, so an edit here changes the next incident's.
    """

    kind = models.CharField(
        max_length=20, choices=SecurityPhaseKind.choices, unique=True
    )
    starts_after_minutes = models.PositiveIntegerField(
        default=0, help_text="Minutes after detection the phase starts."
    )
    due_after_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Minutes after detection it is due; empty: the regulatory "
        "clocks the responder starts set it (the notify phase).",
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=SecurityPhaseKind.values),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
        ]

    def __str__(self):
        return self.get_kind_display()

    def clean(self):
        if (
            self.due_after_minutes is not None
            and self.due_after_minutes < self.starts_after_minutes
        ):
            raise ValidationError(
                {"due_after_minutes": "A phase cannot be due before it starts."}
            )


class SecurityChecklistTemplateItem(models.Model):
    """One step of a security phase's checklist, as the next incident gets it."""

    phase = models.ForeignKey(
        SecurityPhaseTemplate, on_delete=models.CASCADE, related_name="items"
    )
    group = models.CharField(max_length=60)
    text = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["phase", "position", "id"]

    def __str__(self):
        return self.text


class SecurityChecklistItem(models.Model):
    phase = models.ForeignKey(
        SecurityPhase, on_delete=models.CASCADE, related_name="items"
    )
    group = models.CharField(max_length=60)
    text = models.CharField(max_length=200)
    is_done = models.BooleanField(default=False)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    done_at = models.DateTimeField(null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["phase", "position", "id"]

    def __str__(self):
        return self.text


class SecurityNotification(models.Model):
    """Someone who must hear at once: when, by whom, how.

    From the fleet escalation playbook, step 1.
    """

    response = models.ForeignKey(
        SecurityResponse, on_delete=models.CASCADE, related_name="notifications"
    )
    recipient = models.CharField(max_length=30)
    label = models.CharField(max_length=100)
    contact = models.CharField(max_length=200, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    notified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    how = models.CharField(max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["response", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["response", "recipient"], name="%(app_label)s_%(class)s_once"
            ),
        ]

    def __str__(self):
        return self.label


class SecurityContact(models.Model):
    """Someone told at once when an incident is flagged as a security incident.

    The fleet escalation playbook, step 1, names the security officer, the
    CTO and the on-call engineer; each flagged incident copies the active
    contacts into its own list of who was told, when and how.
    """

    key = models.SlugField(max_length=30, unique=True)
    label = models.CharField(max_length=100, help_text="e.g. Security officer")
    contact = models.CharField(
        max_length=200,
        blank=True,
        help_text="How to reach them: an e-mail address, a phone, a pager.",
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "label"]

    def __str__(self):
        return self.label


class RegulatoryRegime(models.Model):
    """A breach-notification law and its clock, as data.

    From the fleet escalation playbook, step 6.
    """

    key = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=100)
    notify_whom = models.CharField(max_length=100, default="Regulators")
    deadline_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Counted from detection. Empty when the law sets no fixed time.",
    )
    deadline_text = models.CharField(
        max_length=200,
        help_text="The deadline as the law puts it, e.g. “72 hours”.",
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class RegulatoryClock(models.Model):
    """A regulatory deadline the responder decided applies to an incident."""

    response = models.ForeignKey(
        SecurityResponse, on_delete=models.CASCADE, related_name="regulatory_clocks"
    )
    regime = models.ForeignKey(
        RegulatoryRegime, on_delete=models.PROTECT, related_name="clocks"
    )
    started_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    notified_at = models.DateTimeField(null=True, blank=True)
    notified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    reference = models.CharField(
        max_length=200, blank=True, help_text="Filing or case number."
    )

    class Meta:
        ordering = ["response", "due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["response", "regime"], name="%(app_label)s_%(class)s_once"
            ),
        ]

    def __str__(self):
        return f"{self.regime} for {self.response.incident.reference}"
