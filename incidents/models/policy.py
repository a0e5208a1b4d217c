"""Policies and the SLA they set: calendars, per-priority targets, severity criteria,
categories."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            "“%(zone)s” is not a known time zone, e.g. Europe/Berlin.",
            code="unknown_time_zone",
            params={"zone": value},
        ) from None


WEEKDAYS_VALIDATOR = RegexValidator(
    r"^(?!.*(.).*\1)[1-7]{1,7}$",
    "List ISO weekday numbers once each, e.g. 12345 for Monday to Friday.",
)


class BusinessCalendar(models.Model):
    """Working days and holidays that business-day SLA targets count."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Business days begin and end at midnight in this zone.",
    )
    working_weekdays = models.CharField(
        max_length=7,
        default="12345",
        validators=[WEEKDAYS_VALIDATOR],
        help_text="ISO weekday numbers that are working days: 1 = Monday … "
        "7 = Sunday. 12345 means Monday to Friday.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Holiday(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    falls_on = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["falls_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["calendar", "falls_on"],
                name="%(app_label)s_%(class)s_one_per_day",
            )
        ]

    def __str__(self):
        return f"{self.falls_on:%Y-%m-%d} {self.name}"


class Priority(models.TextChoices):
    P1 = "P1", "P1 · Critical"
    P2 = "P2", "P2 · High"
    P3 = "P3", "P3 · Medium"
    P4 = "P4", "P4 · Low"


class Segment(models.TextChoices):
    ENTERPRISE = "enterprise", "Enterprise"
    STANDARD = "standard", "Standard"
    TRIAL = "trial", "Trial / free tier"


class Policy(models.Model):
    """A set of SLA targets an organisation promises, one row per priority.

    Edits apply to incidents opened, re-prioritised or moved to another
    customer afterwards; deadlines already stamped stay as promised.
    """

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    team_name = models.CharField(
        max_length=100,
        blank=True,
        help_text="The team customers hear from under this policy: messages "
        "sign with it and the survey page is headed with it (e.g. “Fleet "
        "Support”). Empty: the portal's SUPPORT_TEAM_NAME setting.",
    )
    is_default = models.BooleanField(
        default=False,
        help_text="Applies to customers that have no policy of their own. "
        "Exactly one policy is the default.",
    )
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        related_name="policies",
        help_text="Counts business-day targets.",
    )
    enterprise_response_factor = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default=1,
        help_text="Multiplies the first-response target for enterprise customers "
        "(0.5 = half the time; 1 = no change).",
    )
    standard_response_factor = models.DecimalField(
        max_digits=4, decimal_places=2, default=1
    )
    trial_response_factor = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default=1,
        help_text="2 = twice the time for trial and free-tier customers; "
        "1 = no change.",
    )
    language_standards = models.TextField(
        blank=True,
        help_text="How every message under this policy should read, one rule "
        "per line; the composer shows it beside the text.",
    )
    war_room_invites = models.TextField(
        blank=True,
        help_text="Who joins a Sev 1's war room, one role per line; empty: "
        "this policy runs no war rooms.",
    )
    war_room_status_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="In a war room, everyone gives their status this often.",
    )
    phrases_to_use = models.TextField(
        blank=True,
        help_text="What agents should say to customers, one phrase per line; "
        "the composer lists them.",
    )
    phrases_to_avoid = models.TextField(
        blank=True,
        help_text="What nobody may say to a customer, one phrase per line; the "
        "composer warns before a customer message containing one leaves.",
    )
    post_incident_tone = models.CharField(
        max_length=200,
        blank=True,
        help_text="The tone of post-incident follow-ups, shown in the composer.",
    )
    at_risk_minutes = models.PositiveIntegerField(
        default=120,
        help_text="A running deadline closer than this is shown as at risk, "
        "unless its target sets its own window. A target shorter than twice "
        "this is at risk for its second half only.",
    )
    archive_after_days = models.PositiveSmallIntegerField(
        default=30,
        help_text="Closed incidents leave the default list and searches this "
        "many days after closing, and become read-only (000: archive after "
        "close).",
    )
    # Automation: replies by e-mail and monitoring signals.
    confirmation_keywords = models.TextField(
        blank=True,
        help_text="Words in a customer's e-mailed reply that count as "
        "confirming the fix, one per line (e.g. it works, all good). Empty: "
        "a person always ticks “customer confirmed” after reading the reply.",
    )
    systemic_threshold = models.PositiveIntegerField(
        default=10,
        help_text="A monitoring signal affecting more customers than this "
        "opens (or turns) its incident into a systemic one.",
    )
    # Automation: auto-close rules (carrier communication playbook, parts 6
    # and 7).
    # The carrier playbook closes a resolved incident after 72 hours of the
    # customer's silence; the check-in comes before that, not instead.
    check_in_after_resolved_minutes = models.PositiveIntegerField(
        default=48 * 60,
        help_text="A resolved incident whose customer stays silent this long "
        "gets the check-in e-mail, which says when it will close.",
    )
    close_after_check_in_minutes = models.PositiveIntegerField(
        default=24 * 60,
        help_text="After the check-in, a still silent customer's incident "
        "closes as resolved once this has passed (the check-in promises it).",
    )
    close_pending_after_minutes = models.PositiveIntegerField(
        default=7 * 24 * 60,
        help_text="An incident waiting on the customer's information this "
        "long with no reply closes as pending; a reply reopens it.",
    )
    # The carrier playbook's part 7 allows one proactive message per root
    # cause a day; its cadence matrix promises P1 customers an update every
    # 4 hours. The promise wins for follow-ups: this limit governs only
    # outreach the customer did not ask for.
    proactive_window_hours = models.PositiveSmallIntegerField(
        default=24,
        help_text="A customer hears from us unasked (an incident found by a "
        "signal before they reported it) at most once in this many hours "
        "about the same cause; later alerts are suppressed with the reason "
        "on the incident. 0 lifts the limit. Follow-ups the customer was "
        "promised are never suppressed by it.",
    )
    proactive_same_cause = models.CharField(
        max_length=20,
        choices=[
            ("root_cause", "The same root cause"),
            ("root_cause_or_signal", "The same root cause or the same signal"),
        ],
        default="root_cause_or_signal",
        help_text="Which incidents count as the same cause for that limit.",
    )
    notice_hold_minutes = models.PositiveSmallIntegerField(
        default=5,
        help_text="A notice the portal writes to a customer by itself (an "
        "escalation, a check-in) waits this long on the incident, where "
        "people can edit, hold or send it; several that fall due together "
        "reach the customer as one.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="%(app_label)s_%(class)s_single_default",
                violation_error_message="Another policy is already the default; "
                "untick it there first.",
            ),
            models.CheckConstraint(
                condition=Q(enterprise_response_factor__gt=0)
                & Q(standard_response_factor__gt=0)
                & Q(trial_response_factor__gt=0),
                name="%(app_label)s_%(class)s_positive_factors",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def signing_team(self) -> str:
        """The team customers hear from under this policy."""
        return self.team_name or settings.SUPPORT_TEAM_NAME

    @staticmethod
    def _listed(text: str) -> list[str]:
        return [line.strip() for line in text.splitlines() if line.strip()]

    @property
    def war_room_roles(self) -> list[str]:
        """Who joins a Sev 1's war room; empty when the policy runs none."""
        return self._listed(self.war_room_invites)

    @property
    def phrases_to_say(self) -> list[str]:
        return self._listed(self.phrases_to_use)

    @property
    def phrases_never_said(self) -> list[str]:
        return self._listed(self.phrases_to_avoid)

    def clean(self):
        # Unticking the only default would leave customers without a
        # policy and make every new incident fail; the default moves instead
        # (incidents.services.choose_default_policy).
        if (
            self.pk
            and not self.is_default
            and Policy.objects.filter(pk=self.pk, is_default=True).exists()
            and not Policy.objects.filter(is_default=True).exclude(pk=self.pk).exists()
        ):
            raise ValidationError(
                {
                    "is_default": ValidationError(
                        "This is the default policy and customers without a "
                        "policy of their own use it. Make another policy the "
                        "default instead.",
                        code="default_required",
                    )
                }
            )

    def response_factor(self, segment: str):
        return {
            Segment.ENTERPRISE: self.enterprise_response_factor,
            Segment.STANDARD: self.standard_response_factor,
            Segment.TRIAL: self.trial_response_factor,
        }[segment]


class PolicyTarget(models.Model):
    """What one policy promises for one priority."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(max_length=2, choices=Priority.choices)
    first_response_minutes = models.PositiveIntegerField(
        help_text="Time to the first reply to the customer, before the segment factor."
    )
    resolution_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Resolution target in clock minutes. Fill this or business days.",
    )
    resolution_business_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Resolution target in business days of the policy's calendar.",
    )
    internal_update_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How often the internal channel hears about the incident; "
        "empty means as needed.",
    )
    customer_update_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How often the customer hears from us; empty means as needed.",
    )
    partner_update_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How often partners and vendors are chased; empty means as needed.",
    )
    no_response_escalation_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Escalate when whoever the next field names stays silent "
        "this long after we wrote; empty means never automatically.",
    )
    no_response_from = models.CharField(
        max_length=20,
        choices=[
            ("customer", "The customer: one tier up inside"),
            ("parties", "A partner or vendor: to their management"),
            ("anyone", "Either"),
        ],
        default="customer",
        help_text="Whose silence escalates. A partner or vendor silent past the "
        "delay is escalated to their management; a silent customer goes one "
        "tier up (where the policy does not close their case instead).",
    )
    manager_notify_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Notify a manager when the incident is still open after this long.",
    )
    notifies_executives = models.BooleanField(
        default=False, help_text="Executives are told as soon as it opens."
    )
    tone_guidance = models.TextField(
        blank=True,
        help_text="The tone messages at this priority should take, one point "
        "per line; the composer shows it beside the text.",
    )
    first_response_at_risk_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Show the first-response clock as at risk this long before "
        "its deadline. Empty: the policy's window, or half the target when "
        "the target is shorter than twice that window.",
    )
    resolution_at_risk_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Show the resolution clock as at risk this long before its "
        "deadline. Empty: as for the first response.",
    )
    monitoring_window_minutes = models.PositiveIntegerField(
        default=24 * 60,
        help_text="After resolving, watch this long for a recurrence before "
        "the incident may close (000: 48 h for P1/P2, 24 h for P3/P4).",
    )

    class Meta:
        ordering = ["policy", "priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "priority"],
                name="%(app_label)s_%(class)s_one_per_priority",
            ),
            models.CheckConstraint(
                condition=Q(priority__in=Priority.values),
                name="%(app_label)s_%(class)s_priority_valid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(resolution_minutes__isnull=False)
                    & Q(resolution_business_days__isnull=True)
                )
                | (
                    Q(resolution_minutes__isnull=True)
                    & Q(resolution_business_days__isnull=False)
                ),
                name="%(app_label)s_%(class)s_one_resolution_unit",
                violation_error_message="Give the resolution target either in "
                "minutes or in business days, not both.",
            ),
        ]

    def __str__(self):
        return f"{self.policy} · {self.priority}"


class SeverityCriterion(models.Model):
    """A sign that an incident deserves a priority, under one policy.

    The incident form shows the applicable policy's criteria as boxes; the
    highest priority among the ticked ones is suggested.
    """

    policy = models.ForeignKey(
        Policy, on_delete=models.CASCADE, related_name="severity_criteria"
    )
    priority = models.CharField(max_length=2, choices=Priority.choices)
    text = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["policy", "priority", "position", "id"]
        verbose_name_plural = "severity criteria"
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__in=Priority.values),
                name="%(app_label)s_%(class)s_priority_valid",
            ),
        ]

    def __str__(self):
        return f"{self.priority}: {self.text}"


class Category(models.Model):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=60, unique=True, help_text="Used in tags.")
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    policies = models.ManyToManyField(
        Policy,
        blank=True,
        related_name="categories",
        help_text="The policies whose incidents take this category (a fleet "
        "dashboard bug is not a “Network” issue). A policy named by any category "
        "offers only its own; every other policy offers the categories that name "
        "none.",
    )

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name
