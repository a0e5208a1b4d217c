"""Closure checklists: the templates a policy ships and each incident's copy."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from .incident import Incident
from .policy import Policy


class ChecklistCondition(models.TextChoices):
    """When a checklist or one of its items applies to an incident."""

    ALWAYS = "always", "Always"
    PARTNER_INVOLVED = "partner_involved", "Only if a partner is involved"
    VENDOR_INVOLVED = "vendor_involved", "Only if a vendor is involved"
    MAJOR = "major", "Only for P1/P2 or systemic incidents"
    FINANCIAL_IMPACT = "financial_impact", "Only if money was paid"
    CREDIT_REQUESTED = "credit_requested", "Only if a credit or refund was requested"
    ESCALATED = "escalated", "Only if the incident was escalated"
    SECURITY = "security", "Only for security incidents"


class ChecklistEvidence(models.TextChoices):
    """What ticks an item by itself; NONE means a person ticks it."""

    NONE = "none", "None: a person ticks it"
    ROOT_CAUSE_RECORDED = "root_cause_recorded", "Root cause written on the incident"
    RESOLUTION_VERIFIED = "resolution_verified", "Resolution recorded with how verified"
    RESOLUTION_MESSAGE_SENT = (
        "resolution_message_sent",
        "Resolution message sent to the audience",
    )
    PARTY_CONFIRMED = (
        "party_confirmed",
        "Resolution message sent to the audience and a reply logged from it",
    )
    CUSTOMER_CONFIRMED_OR_72H = (
        "customer_confirmed_or_72h",
        "Customer confirmed, or the wait passed with no reply",
    )
    MONITORING_WINDOW_PASSED = (
        "monitoring_window_passed",
        "Monitoring window passed without recurrence",
    )
    MONITORING_CHECK_SCHEDULED = (
        "monitoring_check_scheduled",
        "Post-resolution check scheduled (the monitoring window)",
    )
    INTERNAL_NOTE_POSTED = "internal_note_posted", "Internal resolution note posted"
    ESCALATION_NOTICE_SENT = (
        "escalation_notice_sent",
        "Customer told of the escalation",
    )
    CREDITS_SETTLED = "credits_settled", "Every credit or refund applied or settled"
    POSTMORTEM_SCHEDULED = "postmortem_scheduled", "Post-mortem scheduled"
    TAGS_UPDATED = "tags_updated", "Tags show resolved, not in progress"
    SECURITY_PHASES_DONE = (
        "security_phases_done",
        "Every phase of the security response done",
    )
    LEGAL_APPROVED = "legal_approved", "Legal approved what customers are told"
    ESCALATION_CHECK_CONFIRMED = (
        "escalation_check_confirmed",
        "The matching check was confirmed on the Escalate page",
    )


class ChecklistAudience(models.TextChoices):
    ANY = "", "—"
    INTERNAL = "internal", "Internal"
    CUSTOMER = "customer", "Customer"
    PARTNER = "partner", "Partner"
    VENDOR = "vendor", "Vendor"


class ChecklistTemplate(models.Model):
    """A checklist the portal attaches to incidents whose facts call for it."""

    Condition = ChecklistCondition

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    policy = models.ForeignKey(
        Policy,
        on_delete=models.PROTECT,
        related_name="checklist_templates",
        null=True,
        blank=True,
        help_text="Only incidents under this policy get it; empty means every policy.",
    )
    condition = models.CharField(
        max_length=30, choices=Condition.choices, default=Condition.ALWAYS
    )
    attaches_on_resolve = models.BooleanField(
        default=True,
        help_text="Attach when the incident is resolved. Unticked: attach as "
        "soon as the condition holds (e.g. an escalation checklist).",
    )
    gates_closed_pending = models.BooleanField(
        default=False,
        help_text="Also hold back closing as pending (waiting on the customer). "
        "Otherwise only a full close waits for this checklist.",
    )
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(condition__in=ChecklistCondition.values),
                name="%(app_label)s_%(class)s_condition_valid",
            ),
        ]

    def __str__(self):
        return self.name


class ChecklistTemplateItem(models.Model):
    """One line of a checklist template, with when it applies and what ticks it."""

    Condition = ChecklistCondition
    Evidence = ChecklistEvidence
    Audience = ChecklistAudience

    template = models.ForeignKey(
        ChecklistTemplate, on_delete=models.CASCADE, related_name="items"
    )
    group = models.CharField(max_length=80, help_text="e.g. Resolution verified.")
    text = models.CharField(max_length=300)
    is_required = models.BooleanField(
        default=True,
        help_text="Closing waits until it is done or marked not applicable.",
    )
    condition = models.CharField(
        max_length=30, choices=Condition.choices, default=Condition.ALWAYS
    )
    evidence = models.CharField(
        max_length=40, choices=Evidence.choices, default=Evidence.NONE
    )
    audience = models.CharField(
        max_length=20,
        choices=Audience.choices,
        blank=True,
        help_text="For message evidence: whose resolution message counts.",
    )
    wait_hours = models.PositiveIntegerField(
        default=72,
        help_text="For “customer confirmed, or the wait passed”: the wait.",
    )
    check_text = models.CharField(
        max_length=200,
        blank=True,
        help_text="For “confirmed on the Escalate page”: the pre-escalation "
        "check, word for word, whose confirmation ticks this item.",
    )
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["template", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(condition__in=ChecklistCondition.values),
                name="%(app_label)s_%(class)s_condition_valid",
            ),
            models.CheckConstraint(
                condition=Q(evidence__in=ChecklistEvidence.values),
                name="%(app_label)s_%(class)s_evidence_valid",
            ),
            models.CheckConstraint(
                condition=Q(audience__in=ChecklistAudience.values),
                name="%(app_label)s_%(class)s_audience_valid",
            ),
        ]

    def __str__(self):
        return f"{self.group}: {self.text}"

    def clean(self):
        needs_audience = {
            ChecklistEvidence.RESOLUTION_MESSAGE_SENT,
            ChecklistEvidence.PARTY_CONFIRMED,
        }
        if self.evidence in needs_audience and not self.audience:
            raise ValidationError(
                {"audience": "Say whose message counts as evidence."},
                code="audience_required",
            )


class IncidentChecklist(models.Model):
    """A checklist template's copy on one incident."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="checklists"
    )
    template = models.ForeignKey(
        ChecklistTemplate, on_delete=models.PROTECT, related_name="copies"
    )
    name = models.CharField(max_length=120)
    gates_closed_pending = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)
    attached_at = models.DateTimeField()

    class Meta:
        ordering = ["position", "id"]
        permissions = [
            (
                "work_checklist",
                "Can tick checklist items or mark them not applicable",
            ),
            (
                "override_checklist",
                "Can settle, with a reason, an item the portal's records tick",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "template"],
                name="%(app_label)s_%(class)s_once_per_incident",
            )
        ]

    def __str__(self):
        return f"{self.name} · {self.incident.reference}"


class ChecklistItemState(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class IncidentChecklistItem(models.Model):
    """One line of an incident's checklist: its state, who settled it and why."""

    State = ChecklistItemState
    Evidence = ChecklistEvidence

    checklist = models.ForeignKey(
        IncidentChecklist, on_delete=models.PROTECT, related_name="items"
    )
    template_item = models.ForeignKey(
        ChecklistTemplateItem, on_delete=models.PROTECT, related_name="copies"
    )
    group = models.CharField(max_length=80)
    text = models.CharField(max_length=300)
    is_required = models.BooleanField(default=True)
    condition = models.CharField(max_length=30, choices=ChecklistCondition.choices)
    evidence = models.CharField(max_length=40, choices=ChecklistEvidence.choices)
    audience = models.CharField(
        max_length=20, choices=ChecklistAudience.choices, blank=True
    )
    wait_hours = models.PositiveIntegerField(default=72)
    check_text = models.CharField(max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPEN)
    # Who settled it: empty with a state other than open means the portal
    # did, from evidence or because the item stopped applying.
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="settled_checklist_items",
        null=True,
        blank=True,
    )
    settled_at = models.DateTimeField(null=True, blank=True)
    evidence_text = models.CharField(max_length=300, blank=True)
    evidence_at = models.DateTimeField(null=True, blank=True)
    not_applicable_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["checklist", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["checklist", "template_item"],
                name="%(app_label)s_%(class)s_once_per_checklist",
            ),
            models.CheckConstraint(
                condition=Q(state__in=ChecklistItemState.values),
                name="%(app_label)s_%(class)s_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(state="open", settled_at__isnull=True)
                | (~Q(state="open") & Q(settled_at__isnull=False)),
                name="%(app_label)s_%(class)s_settled_at_iff_settled",
            ),
            models.CheckConstraint(
                condition=~Q(state="not_applicable") | ~Q(not_applicable_reason=""),
                name="%(app_label)s_%(class)s_not_applicable_has_reason",
                violation_error_message="Say why the item does not apply.",
            ),
        ]

    def __str__(self):
        return f"{self.group}: {self.text} ({self.get_state_display()})"

    @property
    def is_ticked_by_hand(self) -> bool:
        """Whether anyone working the checklist may tick it: nothing ticks it
        by itself, or what does (a check confirmed on the Escalate page) is
        one way to know, not the only one (a rule's escalation confirms
        nothing)."""
        return self.evidence in (
            ChecklistEvidence.NONE,
            ChecklistEvidence.ESCALATION_CHECK_CONFIRMED,
        )

    @property
    def is_settled(self) -> bool:
        return self.state != ChecklistItemState.OPEN


class ResolutionVerification(models.TextChoices):
    """How a resolution was confirmed.

    From the carrier communication playbook, part 5A (Verification).
    """

    CUSTOMER_CONFIRMATION = "customer_confirmation", "Customer confirmation"
    SYSTEM_CHECK = "system_check", "System check"
    MONITORING = "monitoring", "Monitoring"
