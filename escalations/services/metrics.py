"""Reviews: recorded once held, with the actions they decided."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import Review, ReviewAction


@transaction.atomic
def record_review(
    *,
    actor,
    kind: str,
    policy,
    period_start_on: dt.date,
    period_end_on: dt.date,
    findings: str,
    actions: list[dict],
    today: dt.date,
) -> Review:
    """Keep a held review with its findings and the actions owners took on."""
    if not actor.has_perm("escalations.add_review"):
        raise ValidationError("Only managers record reviews.", code="not_allowed")
    if period_end_on > today:
        raise ValidationError(
            "A review looks back: its period cannot end after today.",
            code="future_period",
        )
    for action in actions:
        if action["due_on"] < today:
            raise ValidationError(
                f"“{action['what']}” is due in the past: give it a date from today on.",
                code="due_in_past",
            )
    now = timezone.now()
    review = Review(
        kind=kind,
        policy=policy,
        period_start_on=period_start_on,
        period_end_on=period_end_on,
        findings=findings.strip(),
        held_by=actor,
        created_at=now,
        updated_at=now,
    )
    review.full_clean()
    review.save()
    ReviewAction.objects.bulk_create(
        ReviewAction(review=review, **action) for action in actions
    )
    return review


@transaction.atomic
def complete_review_action(*, actor, action: ReviewAction) -> ReviewAction:
    """Mark a review's action done, as its owner or a manager."""
    action = ReviewAction.objects.select_for_update().get(pk=action.pk)
    if action.owner_id != actor.pk and not actor.has_perm("escalations.change_review"):
        raise ValidationError(
            "Only the action's owner or a manager can mark it done.",
            code="not_allowed",
        )
    if not action.is_done:
        action.is_done = True
        action.save(update_fields=["is_done"])
    return action
