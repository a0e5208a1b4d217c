"""The customer satisfaction survey's answers."""

from django.db import models
from django.db.models import Q

from .customers import Customer
from .incident import Incident


class SurveyResponse(models.Model):
    """A customer's answer to the satisfaction survey sent with the resolution.

    One per incident and customer: the link in the e-mail is signed for that
    pair, so the unique constraint is what makes it single-use.
    """

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="survey_responses"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="survey_responses"
    )
    # The agency resolution protocol's five questions; the first is the one
    # every link asks.
    score = models.PositiveSmallIntegerField(
        help_text="Overall satisfaction, 1 (very unhappy) to 5 (very happy)."
    )
    communication_score = models.PositiveSmallIntegerField(null=True, blank=True)
    response_time_score = models.PositiveSmallIntegerField(null=True, blank=True)
    resolution_score = models.PositiveSmallIntegerField(null=True, blank=True)
    handling_score = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField()

    class Meta:
        ordering = ["-answered_at", "-id"]
        indexes = [
            # escalations.metrics: answers in a date range.
            models.Index(fields=["answered_at"], name="survey_answered_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "customer"],
                name="%(app_label)s_%(class)s_one_answer_per_link",
            ),
            models.CheckConstraint(
                condition=Q(score__gte=1, score__lte=5),
                name="%(app_label)s_%(class)s_score_in_range",
            ),
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__isnull": True})
                    | Q(**{f"{name}__gte": 1, f"{name}__lte": 5}),
                    name=f"%(app_label)s_%(class)s_{name}_in_range",
                )
                for name in (
                    "communication_score",
                    "response_time_score",
                    "resolution_score",
                    "handling_score",
                )
            ),
        ]

    def __str__(self):
        return f"{self.score}/5 for {self.incident.reference}"
