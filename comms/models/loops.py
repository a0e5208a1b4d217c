"""Follow-up loops: each audience's next update, and the sweep's heartbeat."""

from django.db import models
from django.db.models import Q

from incidents.models import Priority

from .messages import Message
from .parties import ExternalParty
from .templates import Audience


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
    promised_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The longest gap a message promised this audience (a tier's "
        "'within 24 hours'); re-timing for a new priority keeps to it.",
    )
    their_ticket_id = models.CharField(
        max_length=80,
        blank=True,
        help_text="The partner's or vendor's own ticket number for this "
        "incident: quoted in every follow-up and escalation to them.",
    )
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
