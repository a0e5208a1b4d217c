"""The customer satisfaction survey's answers."""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import (
    surveys,
)
from ..models import (
    Customer,
    Incident,
    SurveyResponse,
    TimelineEvent,
)
from .records import field_error, record_timeline_event

SURVEY_SCORES = (
    "score",
    "communication_score",
    "response_time_score",
    "resolution_score",
    "handling_score",
)


@transaction.atomic
def answer_survey(
    *, token: str, answers: dict[str, Any], now: dt.datetime | None = None
) -> SurveyResponse:
    """Record a customer's satisfaction answer from the link in their e-mail."""
    read = surveys.read_survey_token(token)
    if read is None:
        raise ValidationError(
            "This survey link is not valid or has expired.", code="bad_link"
        )
    incident_id, customer_id = read
    incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
    if incident is None or not Customer.objects.filter(pk=customer_id).exists():
        raise ValidationError(
            "This survey link is not valid or has expired.", code="bad_link"
        )
    if SurveyResponse.objects.filter(
        incident=incident, customer_id=customer_id
    ).exists():
        raise ValidationError(
            "You have already answered this survey. Thank you!", code="answered"
        )
    for name in SURVEY_SCORES:
        value = answers.get(name)
        if value is None and name == "score":
            raise field_error("score", "Choose a score from 1 to 5.", code="required")
        if value is not None and not 1 <= int(value) <= 5:
            raise field_error(name, "Choose a score from 1 to 5.", code="range")
    response = SurveyResponse(
        incident=incident,
        customer_id=customer_id,
        comment=(answers.get("comment") or "").strip(),
        answered_at=now or timezone.now(),
        **{name: answers.get(name) for name in SURVEY_SCORES},
    )
    response.full_clean()
    response.save()
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.SURVEY_ANSWERED,
        actor=None,
        details={
            "customer": customer_id,
            **{name: getattr(response, name) for name in SURVEY_SCORES},
            "comment": response.comment[:1000],
        },
        at=response.answered_at,
    )
    return response
