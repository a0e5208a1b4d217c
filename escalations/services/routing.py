"""Asking for an escalation: the note its path needs, the rules that match,
approval where a rule asks, and the bug report."""

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.models import Incident, TimelineEvent
from portal.nav_counts import forget_nav_counts

from .. import selectors
from ..models import (
    BUG_REPORT_PATHS,
    GENERIC_REQUIRED,
    PATH_FIELDS,
    BugReport,
    Escalation,
    EscalationRule,
    Path,
    Tier,
    Urgency,
)
from .notices import (
    User,
    add_tag,
    escalation_event,
    field_error,
    lock_escalation,
    reach_tier,
    tell_customer,
)

GENERIC_LABELS = {
    "summary": "Summary",
    "customer_wants": "What the customer wants",
    "tried": "What was tried, and each result",
    "why": "Why escalate",
    "recommended_resolution": "Recommended resolution",
}


NOTE_FIELDS = (
    "summary",
    "issue_category",
    "first_reported_on",
    "related_tickets",
    "customer_wants",
    "tried",
    "why",
    "recommended_resolution",
    "urgency",
    "sentiment",
)


def _check_note(path: str, note: dict, path_details: dict) -> None:
    errors: dict[str, list[ValidationError]] = {}
    for name in GENERIC_REQUIRED:
        if not str(note.get(name) or "").strip():
            errors[name] = [
                ValidationError(
                    f"{GENERIC_LABELS[name]} is needed for every escalation.",
                    code="note_field_missing",
                )
            ]
    for field in PATH_FIELDS[path]:
        value = str(path_details.get(field.name) or "").strip()
        if field.required and not value:
            errors[field.name] = [
                ValidationError(
                    f"{field.label} is needed on this path.",
                    code="path_field_missing",
                )
            ]
        elif field.choices and value and value not in field.choices:
            errors[field.name] = [
                ValidationError(
                    f"Pick one of: {', '.join(field.choices)}.", code="bad_choice"
                )
            ]
    if path == Path.TRUST_SAFETY and not (
        str(path_details.get("identity_verified_by") or "").strip()
        or str(path_details.get("identity_not_verified_because") or "").strip()
    ):
        errors["identity_verified_by"] = [
            ValidationError(
                "Say how the identity was verified, or why it could not be.",
                code="path_field_missing",
            )
        ]
    if note.get("urgency") not in Urgency.values:
        errors["urgency"] = [
            ValidationError("Pick the urgency.", code="note_field_missing")
        ]
    if errors:
        raise ValidationError(errors)


def _checked(policy_id: int, checks: dict[int, str | bool]) -> list[dict]:
    """Return each pre-escalation check as confirmed or explained."""
    answers, missing = [], []
    for check in selectors.pre_escalation_checks(policy_id):
        answer = checks.get(check.pk)
        if answer is True:
            answers.append({"check": check.pk, "text": check.text, "confirmed": True})
        elif isinstance(answer, str) and answer.strip():
            answers.append(
                {
                    "check": check.pk,
                    "text": check.text,
                    "confirmed": False,
                    "why_not": answer.strip(),
                }
            )
        else:
            missing.append(check.text)
    if missing:
        raise field_error(
            "checks",
            "Confirm each check or say why it does not apply: " + "; ".join(missing),
            "check_unexplained",
        )
    return answers


def _needs_approval(matches, tier: Tier) -> tuple[bool, EscalationRule | None]:
    """Whether a matching rule for the tier asks a manager, and the rule that governs.

    The governing rule is the one asking for approval, else the one with the
    shortest time frame (it sets how soon the tier must acknowledge). A
    frame of 0 ("immediately") leaves the tier's own target as the deadline,
    so the escalation is not overdue the moment it arrives.
    """
    for_tier = [match.rule for match in matches if tier in match.tiers]
    for rule in for_tier:
        if rule.needs_approval:
            return True, rule
    timed = [rule for rule in for_tier if rule.respond_within_minutes]
    return False, min(timed, key=lambda rule: rule.respond_within_minutes, default=None)


@transaction.atomic
def request_escalation(
    *,
    incident: Incident,
    actor: User,
    path: str,
    tiers: list[Tier],
    note: dict[str, Any],
    path_details: dict[str, Any] | None = None,
    checks: dict[int, str | bool] | None = None,
    flags=(),
    refund_amount: Decimal | None = None,
    port_in_rejections: int = 0,
    bug_report: dict[str, Any] | None = None,
) -> list[Escalation]:
    """Hand the incident to one or more tiers with the note its path needs.

    A tier a matching rule marks for approval waits for a manager; the
    others see it in their queue at once and the customer is told.
    """
    forget_nav_counts()
    if not actor.has_perm("escalations.request_escalation"):
        raise PermissionDenied("Your role cannot escalate incidents.")
    incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
    if not incident.is_open or incident.status == Incident.Status.RESOLVED:
        raise ValidationError(
            f"{incident.reference} is {incident.get_status_display().lower()}; "
            "only open incidents can be escalated.",
            code="incident_not_open",
        )
    if path not in Path.values:
        raise field_error("path", "Pick an escalation path.", "bad_path")
    path_details = {
        f.name: str((path_details or {}).get(f.name) or "").strip()
        for f in PATH_FIELDS[path]
    }
    _check_note(path, note, path_details)
    if not tiers:
        raise field_error("tiers", "Pick at least one tier.", "no_tier")
    for tier in tiers:
        if tier.policy_id != incident.policy_id or not tier.is_active:
            raise field_error(
                "tiers",
                f"{tier.name} is not a tier of this incident's policy.",
                "foreign_tier",
            )
        if not selectors.tier_has_members(tier):
            raise field_error(
                "tiers",
                f"{tier.name} has no members yet, so nobody would see this. "
                "Ask an admin to add people to the tier, or pick another.",
                "tier_without_members",
            )
    if bug_report and path not in BUG_REPORT_PATHS:
        raise field_error(
            "path",
            "A bug report goes with an Engineering or Tier 3 escalation.",
            "bug_report_wrong_path",
        )
    answers = _checked(incident.policy_id, checks or {})
    now = timezone.now()
    facts = selectors.rule_facts(
        incident,
        now=now,
        flags=flags,
        refund_amount=refund_amount,
        port_in_rejections=port_in_rejections,
    )
    matches = selectors.matching_rules(incident=incident, facts=facts)
    created, told = [], False
    for tier in dict.fromkeys(tiers):
        needs_approval, rule = _needs_approval(matches, tier)
        escalation = Escalation(
            incident=incident,
            path=path,
            from_tier=facts.current_tier,
            to_tier=tier,
            rule=rule,
            needs_approval=needs_approval,
            stops_customer_contact=any(
                match.rule.stops_customer_contact
                for match in matches
                if tier in match.tiers
            ),
            path_details=path_details,
            checks=answers,
            refund_amount=refund_amount,
            requested_by=actor,
            created_at=now,
            **{name: note.get(name) for name in NOTE_FIELDS if name in note},
        )
        escalation.full_clean(exclude=["incident", "to_tier", "from_tier"])
        escalation.save()
        add_tag(incident, tier.tag, now)
        escalation_event(
            escalation,
            TimelineEvent.Kind.ESCALATION_REQUESTED,
            actor,
            at=now,
            urgency=escalation.urgency,
            needs_approval=needs_approval,
            rules=[m.rule.name for m in matches if tier in m.tiers],
            # The escalation checklist counts these as done.
            checks_confirmed=[a["text"] for a in answers if a["confirmed"]],
            checks_explained={
                a["text"]: a["why_not"] for a in answers if not a["confirmed"]
            },
            # A stale edit of the incident names this change (the tag).
            version=incident.version,
        )
        if not needs_approval:
            reach_tier(escalation, actor, now)
            if not told:
                tell_customer(escalation, actor)
                told = True
        created.append(escalation)
    if bug_report:
        file_bug_report(escalation=created[0], actor=actor, **bug_report)
    return created


@transaction.atomic
def file_bug_report(*, escalation: Escalation, actor: User, **fields: Any) -> BugReport:
    """File a bug report with an Engineering or Tier 3 escalation.

    From the fleet escalation playbook.
    """
    escalation = lock_escalation(escalation)
    if escalation.path not in BUG_REPORT_PATHS:
        raise ValidationError(
            "Bug reports go with Engineering or Tier 3 escalations.",
            code="bug_report_wrong_path",
        )
    if BugReport.objects.filter(escalation=escalation).exists():
        raise ValidationError(
            "This escalation already has a bug report.", code="bug_report_exists"
        )
    report = BugReport(escalation=escalation, filed_by=actor, **fields)
    report.full_clean(exclude=["escalation"])
    report.save()
    _bug_report_event(escalation, report, actor)
    return report


def _bug_report_event(escalation: Escalation, report: BugReport, actor) -> None:
    escalation_event(
        escalation,
        TimelineEvent.Kind.BUG_REPORT_FILED,
        actor,
        bug_report=report.pk,
        title=report.title,
        tracker_key=report.tracker_key,
    )


@transaction.atomic
def record_tracker_key(
    *, bug_report: BugReport, actor: User, tracker_key: str
) -> BugReport:
    """Link a bug report to the key the tracker gave it (e.g. FLEET-5678)."""
    report = BugReport.objects.select_for_update().get(pk=bug_report.pk)
    report.tracker_key = tracker_key.strip().upper()
    report.full_clean(exclude=["escalation"])
    report.save(update_fields=["tracker_key", "updated_at"])
    escalation = Escalation.objects.select_related("incident", "to_tier").get(
        pk=report.escalation_id
    )
    _bug_report_event(escalation, report, actor)
    return report
