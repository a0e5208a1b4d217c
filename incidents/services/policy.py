"""Which policy an incident falls under, and the SLA deadlines it sets."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction

from .. import (
    severity,
    sla,
)
from ..models import (
    Category,
    Customer,
    Incident,
    Policy,
    PolicyTarget,
    SeverityCriterion,
    TimelineEvent,
)
from ..selectors import categories_offered
from .records import User, record_timeline_event

SLA_INPUT_FIELDS = {"priority", "customer"}


def policy_for(customer: Customer | None) -> Policy:
    """Return the policy that governs an incident for ``customer``."""
    if customer is not None and customer.policy_id:
        return customer.policy
    policy = Policy.objects.filter(is_default=True).select_related("calendar").first()
    if policy is None:
        raise ValidationError(
            "No default SLA policy is set; an admin must mark one as default.",
            code="no_default_policy",
        )
    return policy


def check_category(*, policy: Policy, category: Category) -> None:
    """Refuse a category the incident's policy does not offer."""
    offered = categories_offered(policy)
    if offered.filter(pk=category.pk).exists():
        return
    names = ", ".join(offered.values_list("name", flat=True)) or "none yet"
    raise ValidationError(
        {
            "category": ValidationError(
                f"“{category.name}” is not a category of the “{policy.name}” "
                f"policy. Pick one of its own: {names}.",
                code="category_of_another_policy",
            )
        }
    )


def check_policy_choices(
    *,
    policy: Policy,
    category: Category | None,
    priority: str,
    criteria: list[SeverityCriterion],
    reason: str,
) -> SeverityCriterion | None:
    """Check the category (None: unchanged, not checked) and the severity
    criteria against the policy, saying everything that is wrong at once.

    Return the criterion that decided the priority suggestion, if any.
    """
    problems = {}
    if category is not None:
        try:
            check_category(policy=policy, category=category)
        except ValidationError as exc:
            problems = exc.update_error_dict(problems)
    decided_by = None
    try:
        decided_by = severity.check_priority(
            policy=policy, priority=priority, criteria=criteria, reason=reason
        )
    except ValidationError as exc:
        problems = exc.update_error_dict(problems)
    if problems:
        raise ValidationError(problems)
    return decided_by


@transaction.atomic
def choose_default_policy(*, policy: Policy) -> Policy:
    """Make ``policy`` the default in place of the current one, in one step.

    The old default is unticked first: the database allows one default at
    a time, and there is never a moment without one for other readers.
    """
    Policy.objects.select_for_update().filter(is_default=True).exclude(
        pk=policy.pk
    ).update(is_default=False)
    Policy.objects.filter(pk=policy.pk).update(is_default=True)
    policy.is_default = True
    return policy


def apply_deadlines(incident: Incident) -> None:
    policy = incident.policy
    try:
        target = policy.targets.get(priority=incident.priority)
    except PolicyTarget.DoesNotExist:
        raise ValidationError(
            f"Policy “{policy}” has no target for {incident.priority}; an admin "
            "must add one.",
            code="no_policy_target",
        ) from None
    deadlines = sla.compute_deadlines(
        target=target,
        policy=policy,
        segment=incident.customer.segment if incident.customer else None,
        start=incident.created_at,
        working_days=sla.WorkingDays.of(policy.calendar),
    )
    for name, value in vars(deadlines).items():
        setattr(incident, name, value)


def recompute_sla(incident: Incident, *, actor: User | None, at: dt.datetime) -> None:
    before = {
        "first_response_due_at": incident.first_response_due_at,
        "resolution_due_at": incident.resolution_due_at,
    }
    apply_deadlines(incident)
    incident.save(
        update_fields=[
            "policy",
            "first_response_due_at",
            "first_response_at_risk_at",
            "resolution_due_at",
            "resolution_at_risk_at",
        ]
    )
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.SLA_RECOMPUTED,
        actor=actor,
        at=at,
        details={
            "policy": incident.policy.name,
            "priority": incident.priority,
            "segment": incident.customer.segment if incident.customer else None,
            "changes": {
                name: [old.isoformat(), getattr(incident, name).isoformat()]
                for name, old in before.items()
            },
        },
    )
