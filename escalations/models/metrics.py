"""Metric targets per policy, and the reviews managers hold."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from escalations.figures import CHOICES
from incidents.models import Policy, Priority


class MetricTarget(models.Model):
    """The value a figure should reach under one policy (and priority)."""

    policy = models.ForeignKey(
        Policy, on_delete=models.CASCADE, related_name="metric_targets"
    )
    figure = models.CharField(max_length=40, choices=CHOICES)
    priority = models.CharField(
        max_length=2,
        choices=Priority.choices,
        blank=True,
        help_text="Empty: the target for all priorities together.",
    )
    target = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        help_text="Percent for rates, 1-5 for satisfaction, hours for times. "
        "Whether the figure must stay above or below it comes with the figure.",
    )
    is_strict = models.BooleanField(
        default=False,
        help_text="The figure must pass the target, not only reach it: "
        "“under 20%” rather than “at most 20%”.",
    )
    note = models.CharField(
        max_length=200, blank=True, help_text="Where the target comes from."
    )

    class Meta:
        ordering = ["policy", "figure", "priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "figure", "priority"],
                name="%(app_label)s_%(class)s_one_per_figure",
            ),
            models.CheckConstraint(
                condition=Q(target__gte=0), name="%(app_label)s_%(class)s_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.get_figure_display()} {self.priority or 'all'}: {self.target}"


class ReviewKind(models.TextChoices):
    WEEKLY = "weekly", "Weekly escalation review"
    MONTHLY = "monthly", "Monthly issue review"
    QUARTERLY = "quarterly", "Quarterly communication audit"
    ANNUAL = "annual", "Annual protocol update"


class Review(models.Model):
    """One held review: its period, what was found and what will be done."""

    Kind = ReviewKind

    kind = models.CharField(max_length=20, choices=Kind.choices)
    policy = models.ForeignKey(
        Policy,
        on_delete=models.PROTECT,
        related_name="reviews",
        null=True,
        blank=True,
        help_text="Empty: every policy.",
    )
    period_start_on = models.DateField()
    period_end_on = models.DateField()
    findings = models.TextField(blank=True)
    held_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews_held"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-period_end_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ReviewKind.values),
                name="%(app_label)s_%(class)s_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(period_end_on__gte=models.F("period_start_on")),
                name="%(app_label)s_%(class)s_period_in_order",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.period_start_on}–{self.period_end_on}"


class ReviewAction(models.Model):
    """Something a review decided to do, with who does it and by when."""

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="actions")
    what = models.CharField(max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="review_actions",
    )
    due_on = models.DateField()
    is_done = models.BooleanField(default=False)

    class Meta:
        ordering = ["due_on", "id"]

    def __str__(self):
        return self.what
