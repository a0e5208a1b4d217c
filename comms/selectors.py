"""Reads of the template library that the composer and the scheduler share."""

from django.db.models import Q, QuerySet

from incidents.models import Incident

from .models import MessageTemplate


def _specificity(template: MessageTemplate, situation: str) -> tuple:
    """Rank a candidate: every filter it sets that matches counts once.

    A narrower follow-up range beats a wider one; an exact situation beats
    "any". Ties go to the lower key, so the choice is stable.
    """
    if template.follow_up_from is None:
        width = 10**6
    elif template.follow_up_to is None:
        width = 10**3
    else:
        width = template.follow_up_to - template.follow_up_from
    return (
        -sum(
            (
                bool(template.priority),
                bool(template.category_id),
                bool(template.situation) and template.situation == situation,
                template.follow_up_from is not None,
            )
        ),
        width,
        template.key,
    )


def matching_templates(
    *,
    stage: str,
    audience: str,
    incident: Incident,
    channel: str | None = None,
    follow_up_number: int | None = None,
    situation: str = "",
) -> QuerySet:
    """Return active templates that fit, before ranking (filters applied)."""
    candidates = MessageTemplate.objects.filter(
        stage=stage, audience=audience, is_active=True, current_version__isnull=False
    ).select_related("current_version")
    if channel:
        candidates = candidates.filter(channel=channel)
    candidates = candidates.filter(
        Q(priority="") | Q(priority=incident.priority),
        Q(category__isnull=True) | Q(category_id=incident.category_id),
        Q(situation="") | Q(situation=situation),
    )
    if follow_up_number is not None:
        candidates = candidates.filter(
            Q(follow_up_from__isnull=True) | Q(follow_up_from__lte=follow_up_number),
            Q(follow_up_to__isnull=True) | Q(follow_up_to__gte=follow_up_number),
        )
    else:
        candidates = candidates.filter(follow_up_from__isnull=True)
    return candidates


def template_for(
    *,
    stage: str,
    audience: str,
    incident: Incident,
    channel: str | None = None,
    follow_up_number: int | None = None,
    situation: str = "",
) -> MessageTemplate | None:
    """Return the most specific active template for this message, or None."""
    candidates = list(
        matching_templates(
            stage=stage,
            audience=audience,
            incident=incident,
            channel=channel,
            follow_up_number=follow_up_number,
            situation=situation,
        )
    )
    if not candidates:
        return None
    return min(candidates, key=lambda t: _specificity(t, situation))
