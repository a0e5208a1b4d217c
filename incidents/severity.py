"""The severity advisor: which priority the ticked criteria point to."""

from django.core.exceptions import ValidationError

from .models import Policy, Priority, SeverityCriterion


def suggestion(criteria) -> SeverityCriterion | None:
    """Return the ticked criterion with the highest priority (P1 first)."""
    return min(criteria, key=lambda c: (c.priority, c.position, c.pk), default=None)


def check_priority(
    *, policy: Policy, priority: str, criteria, reason: str
) -> SeverityCriterion | None:
    """Refuse criteria of another policy, and an unexplained other priority.

    Return the criterion that decided the suggestion, if any.
    """
    foreign = [c for c in criteria if c.policy_id != policy.pk]
    if foreign:
        raise ValidationError(
            {
                "severity_criteria": ValidationError(
                    f"This customer is under the “{policy.name}” policy; tick its "
                    "criteria instead.",
                    code="criteria_of_another_policy",
                )
            }
        )
    decided_by = suggestion(criteria)
    if decided_by and decided_by.priority != priority and not reason.strip():
        label = Priority(decided_by.priority).label
        raise ValidationError(
            {
                "priority_reason": ValidationError(
                    f"The ticked criteria suggest {label} (“{decided_by.text}”). "
                    "Choose that priority, or say here why another is right.",
                    code="priority_unexplained",
                )
            }
        )
    return decided_by
