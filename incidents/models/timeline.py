"""The append-only history of an incident: one row per change, by whom and when."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .incident import Incident


class TimelineEventKind(models.TextChoices):
    OPENED = "opened", "Incident opened"
    EDITED = "edited", "Details edited"
    STATUS_CHANGED = "status_changed", "Status changed"
    REOPENED = "reopened", "Reopened"
    OWNER_CHANGED = "owner_changed", "Owner changed"
    SLA_RECOMPUTED = "sla_recomputed", "SLA deadlines recomputed"
    FIRST_RESPONSE = "first_response", "First response recorded"
    AFFECTED_CUSTOMER_ADDED = "affected_customer_added", "Affected customer added"
    ACTION_ITEM_DONE = "action_item_done", "Action item done"
    MESSAGE_DRAFTED = "message_drafted", "Message drafted"
    MESSAGE_SUBMITTED = "message_submitted", "Message sent for approval"
    MESSAGE_APPROVED = "message_approved", "Message approved"
    MESSAGE_REJECTED = "message_rejected", "Message rejected"
    MESSAGE_QUEUED = "message_queued", "Message queued"
    MESSAGE_SENT = "message_sent", "Message sent"
    MESSAGE_FAILED = "message_failed", "Message failed"
    MESSAGE_SUPPRESSED = "message_suppressed", "Message suppressed"
    MESSAGE_EDITED = "message_edited", "Message edited"
    MESSAGE_CANCELLED = "message_cancelled", "Message cancelled"
    MESSAGE_WITHDRAWN = "message_withdrawn", "Message withdrawn"
    REPLY_LOGGED = "reply_logged", "Reply logged"
    # Escalations
    ESCALATION_REQUESTED = "escalation_requested", "Escalation requested"
    ESCALATION_TRIGGERED = "escalation_triggered", "Escalation rule fired"
    ESCALATION_APPROVED = "escalation_approved", "Escalation approved"
    ESCALATION_REJECTED = "escalation_rejected", "Escalation rejected"
    ESCALATION_ACKNOWLEDGED = "escalation_acknowledged", "Escalation acknowledged"
    ESCALATION_RETURNED = "escalation_returned", "Escalation returned"
    ESCALATION_RESOLVED = "escalation_resolved", "Escalation resolved"
    ESCALATION_CANCELLED = "escalation_cancelled", "Escalation cancelled"
    ESCALATION_REMINDED = "escalation_reminded", "Escalation reminder sent"
    ESCALATION_ENDED = "escalation_ended", "Escalation ended with the incident"
    ESCALATION_RESTORED = "escalation_restored", "Escalation back in its queue"
    BUG_REPORT_FILED = "bug_report_filed", "Bug report filed"
    URGENT_ALERT_POSTED = "urgent_alert_posted", "Urgent alert posted"
    ON_CALL_PAGED = "on_call_paged", "On-call paged"
    MANAGEMENT_NOTIFIED = "management_notified", "Management notified"
    # Credits and refunds
    CREDIT_REQUESTED = "credit_requested", "Credit requested"
    CREDIT_APPROVED = "credit_approved", "Credit approved"
    CREDIT_REJECTED = "credit_rejected", "Credit rejected"
    CREDIT_APPLIED = "credit_applied", "Credit applied"
    CREDIT_CANCELLED = "credit_cancelled", "Credit cancelled"
    # Resolve, close and learn
    RESOLUTION_RECORDED = "resolution_recorded", "Resolution recorded"
    CHECKLIST_ATTACHED = "checklist_attached", "Checklist attached"
    CHECKLIST_ITEM_DONE = "checklist_item_done", "Checklist item done"
    CHECKLIST_ITEM_NOT_APPLICABLE = (
        "checklist_item_not_applicable",
        "Checklist item not applicable",
    )
    CHECKLIST_ITEM_REOPENED = "checklist_item_reopened", "Checklist item reopened"
    CLOSE_REFUSED = "close_refused", "Close refused"
    ARCHIVED = "archived", "Archived"
    POSTMORTEM_CHANGED = "postmortem_changed", "Post-mortem changed"
    COMMUNICATION_PLAN_CHANGED = (
        "communication_plan_changed",
        "Communication plan changed",
    )
    WAR_ROOM = "war_room", "War room"
    SECURITY_FLAGGED = "security_flagged", "Flagged as a security incident"
    SECURITY_PHASE_DONE = "security_phase_done", "Security phase done"
    REGULATORY_CLOCK_STARTED = "regulatory_clock_started", "Regulatory clock started"
    REGULATORY_NOTICE_SENT = "regulatory_notice_sent", "Regulatory notice sent"
    # Automation
    FOLLOW_UP_LOOP_CHANGED = "follow_up_loop_changed", "Follow-up loop changed"
    FOLLOW_UP_SLOTS_MISSED = "follow_up_slots_missed", "Follow-up slots missed"
    PARTY_SILENT = "party_silent", "Partner or vendor silent"
    SLA_AT_RISK_ALERTED = "sla_at_risk_alerted", "Deadline at risk"
    SLA_BREACHED = "sla_breached", "Deadline breached"
    AUTO_CLOSED = "auto_closed", "Closed by rule"
    REPLY_RECEIVED = "reply_received", "Reply received by e-mail"
    SIGNAL_RECEIVED = "signal_received", "Monitoring signal received"
    # Metrics
    SURVEY_ANSWERED = "survey_answered", "Satisfaction survey answered"


class TimelineEvent(models.Model):
    """One entry of an incident's append-only history.

    The database refuses UPDATE (and DELETE on PostgreSQL) of these rows; see
    migration 0002.
    """

    Kind = TimelineEventKind

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="timeline_events"
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    # PROTECT, not SET_NULL: nulling the actor would edit an append-only row.
    # Staff who leave are deactivated, and their history keeps their name.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="timeline_events",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField()
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # incident_timeline: one incident's history in order.
            models.Index(fields=["incident", "created_at", "id"], name="timeline_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=TimelineEventKind.values),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} at {self.created_at:%Y-%m-%d %H:%M}"
