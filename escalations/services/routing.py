"""Escalation intentions: request, decide, acknowledge, return, resolve, and
the scheduled work (automatic rules, reminders, check-ins, management notices).
"""

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from comms import selectors as comms_selectors
from comms import services as comms_services
from comms.models import Audience, Channel, Message, Stage
from incidents.models import Incident, PolicyTarget, Priority, TimelineEvent
from incidents.services import record_timeline_event

from .. import paging, selectors
from ..models import (
    BUG_REPORT_PATHS,
    GENERIC_REQUIRED,
    PATH_FIELDS,
    PATH_SITUATIONS,
    BugReport,
    Escalation,
    EscalationFiring,
    EscalationRule,
    Path,
    Tier,
    Urgency,
)

User = AbstractBaseUser
logger = logging.getLogger(__name__)

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
# Incidents the sweep still escalates: resolved ones wait for closure only.
ESCALATABLE_STATUSES = [
    s for s in Incident.OPEN_STATUSES if s != Incident.Status.RESOLVED
]
# Work one sweep does per rule at most, so a backlog cannot stall the minute.
SWEEP_BATCH = 200


def _field_error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def _person(user: User | None) -> str:
    if user is None:
        return "the portal"
    return user.get_full_name() or user.get_username()


def _event(
    escalation: Escalation, kind: str, actor: User | None, at=None, **details: Any
) -> TimelineEvent:
    return record_timeline_event(
        incident=escalation.incident,
        kind=kind,
        actor=actor,
        at=at,
        details={
            "escalation": escalation.pk,
            "tier": escalation.to_tier.name,
            "path": escalation.path,
            **details,
        },
    )


def _lock(escalation: Escalation) -> Escalation:
    return (
        Escalation.objects.select_for_update(of=("self",))
        .select_related("incident", "to_tier")
        .get(pk=escalation.pk)
    )


# ---------------------------------------------------------------------------
# Messages: the customer, the tier's channel, the urgent channel, managers.


def _send(
    incident: Incident,
    *,
    audience: str,
    channel: str,
    situation: str,
    recipients: list[str],
    actor: User | None,
    prefix: str = "",
    template_key: str = "",
) -> Message | None:
    """Send the library's escalation template for ``situation``; None if none fits.

    A message that cannot go (no address, a broken template) must not undo
    the escalation, so it runs in a savepoint and is logged when refused.
    """
    from comms.models import MessageTemplate

    if template_key:
        template = (
            MessageTemplate.objects.filter(
                key=template_key, is_active=True, current_version__isnull=False
            )
            .select_related("current_version")
            .first()
        )
    else:
        template = comms_selectors.template_for(
            stage=Stage.ESCALATION,
            audience=audience,
            incident=incident,
            channel=channel,
            situation=situation,
        )
    if template is None or not recipients:
        return None
    try:
        with transaction.atomic():
            return comms_services.send_template(
                incident=incident,
                version=template.current_version,
                actor=actor,
                audience=audience,
                channel=channel,
                stage=Stage.ESCALATION,
                situation=situation,
                recipients=recipients,
                prefix=prefix,
                sender_name=_person(actor) if actor else "",
            )
    except ValidationError as exc:
        logger.warning(
            "Escalation message for %s not sent: %s", incident.reference, exc
        )
        return None


def _tell_customer(escalation: Escalation, actor: User | None) -> Message | None:
    incident = escalation.incident
    return _send(
        incident,
        audience=Audience.CUSTOMER,
        channel=Channel.EMAIL,
        situation=PATH_SITUATIONS[escalation.path],
        recipients=comms_selectors.customer_addresses(incident),
        actor=actor,
    )


# Escalation notices the rules send a customer at most once in this span.
CUSTOMER_NOTICE_GAP = dt.timedelta(hours=24)


def _customer_told_since(incident: Incident, since: dt.datetime) -> bool:
    return Message.objects.filter(
        incident=incident,
        audience=Audience.CUSTOMER,
        stage=Stage.ESCALATION,
        created_at__gte=since,
    ).exists()


def _tier_channel(escalation: Escalation) -> list[str]:
    if escalation.to_tier.chat_channel:
        return [escalation.to_tier.chat_channel]
    route = comms_selectors.chat_route_for(escalation.incident)
    return [route.channel_name] if route else []


def _alert_tier(escalation: Escalation, actor: User | None, prefix: str = "") -> None:
    # Several tiers may share a channel (or the incident's route): each post
    # says whose queue it is in (reminders and check-ins name it already).
    prefix = prefix or f"For {escalation.to_tier.name}: "
    _send(
        escalation.incident,
        audience=Audience.INTERNAL,
        channel=Channel.CHAT,
        situation="",
        template_key="internal-escalation-chat",
        recipients=_tier_channel(escalation),
        actor=actor,
        prefix=prefix,
    )


def _ack_due(escalation: Escalation, now: dt.datetime) -> dt.datetime | None:
    minutes = escalation.to_tier.response_target_minutes
    if escalation.rule_id and escalation.rule.respond_within_minutes:
        within = escalation.rule.respond_within_minutes
        minutes = within if minutes is None else min(minutes, within)
    return None if minutes is None else now + dt.timedelta(minutes=minutes)


def _reach_tier(escalation: Escalation, actor: User | None, now: dt.datetime) -> None:
    """Put the escalation in its tier's queue and tell the tier."""
    escalation.reached_tier_at = now
    escalation.ack_due_at = _ack_due(escalation, now)
    escalation.save(update_fields=["reached_tier_at", "ack_due_at", "updated_at"])
    _alert_tier(escalation, actor)
    if escalation.path == Path.URGENT:
        _raise_urgent_alarm(escalation, actor, now)


def _raise_urgent_alarm(
    escalation: Escalation, actor: User | None, now: dt.datetime, *, post: bool = True
) -> None:
    """Post 002's urgent alert with @channel; page on-call out of hours.

    ``post=False`` only pages: for the other tiers of one critical firing,
    whose alert the first tier's call already posted.
    """
    if post:
        channel = getattr(settings, "ESCALATION_URGENT_CHANNEL", "#cs-urgent")
        message = _send(
            escalation.incident,
            audience=Audience.INTERNAL,
            channel=Channel.CHAT,
            situation="urgent",
            template_key="internal-urgent-escalation",
            recipients=[channel],
            actor=actor,
            prefix="@channel ",
        )
        _event(
            escalation,
            TimelineEvent.Kind.URGENT_ALERT_POSTED,
            actor,
            channel=channel,
            message=message.pk if message else None,
        )
    tier, incident = escalation.to_tier, escalation.incident
    if not tier.has_on_call or tier.is_working_at(now):
        return
    if tier.on_call_top_priority_only and incident.priority != Priority.P1:
        return
    _event(
        escalation,
        TimelineEvent.Kind.ON_CALL_PAGED,
        actor,
        contact=tier.on_call_contact or "on-call",
    )
    contact = tier.on_call_contact
    subject = f"URGENT {incident.reference}: {incident.title}"
    text = escalation.path_details.get("why_urgent", "") or escalation.summary
    transaction.on_commit(
        lambda: paging.pager().page(contact=contact, subject=subject, text=text)
    )


def _add_tag(incident: Incident, tag: str, now: dt.datetime) -> None:
    """Add an escalation tag (002) and bump the version so stale edits stop."""
    if not tag:
        return
    locked = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
    if tag in locked.tags:
        return
    locked.tags = [*locked.tags, tag]
    locked.version += 1
    locked.updated_at = now
    locked.save(update_fields=["tags", "version", "updated_at"])
    incident.tags, incident.version = locked.tags, locked.version


# ---------------------------------------------------------------------------
# Request


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
        raise _field_error(
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
        raise _field_error("path", "Pick an escalation path.", "bad_path")
    path_details = {
        f.name: str((path_details or {}).get(f.name) or "").strip()
        for f in PATH_FIELDS[path]
    }
    _check_note(path, note, path_details)
    if not tiers:
        raise _field_error("tiers", "Pick at least one tier.", "no_tier")
    for tier in tiers:
        if tier.policy_id != incident.policy_id or not tier.is_active:
            raise _field_error(
                "tiers",
                f"{tier.name} is not a tier of this incident's policy.",
                "foreign_tier",
            )
        if not selectors.tier_has_members(tier):
            raise _field_error(
                "tiers",
                f"{tier.name} has no members yet, so nobody would see this. "
                "Ask an admin to add people to the tier, or pick another.",
                "tier_without_members",
            )
    if bug_report and path not in BUG_REPORT_PATHS:
        raise _field_error(
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
            path_details=path_details,
            checks=answers,
            requested_by=actor,
            created_at=now,
            **{name: note.get(name) for name in NOTE_FIELDS if name in note},
        )
        escalation.full_clean(exclude=["incident", "to_tier", "from_tier"])
        escalation.save()
        _add_tag(incident, tier.tag, now)
        _event(
            escalation,
            TimelineEvent.Kind.ESCALATION_REQUESTED,
            actor,
            at=now,
            urgency=escalation.urgency,
            needs_approval=needs_approval,
            rules=[m.rule.name for m in matches if tier in m.tiers],
            # A stale edit of the incident names this change (the tag).
            version=incident.version,
        )
        if not needs_approval:
            _reach_tier(escalation, actor, now)
            if not told:
                _tell_customer(escalation, actor)
                told = True
        created.append(escalation)
    if bug_report:
        file_bug_report(escalation=created[0], actor=actor, **bug_report)
    return created


@transaction.atomic
def file_bug_report(*, escalation: Escalation, actor: User, **fields: Any) -> BugReport:
    """File 004's bug report with an Engineering or Tier 3 escalation."""
    escalation = _lock(escalation)
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
    _event(
        escalation,
        TimelineEvent.Kind.BUG_REPORT_FILED,
        actor,
        bug_report=report.pk,
        title=report.title,
        tracker_key=report.tracker_key,
    )
    return report


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
    _event(
        escalation,
        TimelineEvent.Kind.BUG_REPORT_FILED,
        actor,
        bug_report=report.pk,
        title=report.title,
        tracker_key=report.tracker_key,
    )
    return report


# ---------------------------------------------------------------------------
# Decide, acknowledge, return, resolve


def _decidable(escalation: Escalation, actor: User, verb: str) -> Escalation:
    if not actor.has_perm("escalations.approve_escalation"):
        raise PermissionDenied(f"Only managers {verb} escalations.")
    escalation = _lock(escalation)
    if not escalation.is_awaiting_approval:
        who = _person(escalation.decided_by) if escalation.decided_by_id else None
        raise ValidationError(
            "This escalation is not waiting for approval"
            + (f": {who} already decided it." if who else "."),
            code="already_decided",
        )
    if escalation.requested_by_id == actor.pk:
        raise ValidationError(
            "You asked for this escalation; another manager must decide it.",
            code="own_request",
        )
    return escalation


@transaction.atomic
def approve_escalation(*, escalation: Escalation, actor: User) -> Escalation:
    """Let an escalation that a rule held for approval reach its tier."""
    escalation = _decidable(escalation, actor, "approve")
    now = timezone.now()
    escalation.status = Escalation.Status.APPROVED
    escalation.decided_by, escalation.decided_at = actor, now
    escalation.version += 1
    escalation.save()
    _event(escalation, TimelineEvent.Kind.ESCALATION_APPROVED, actor, at=now)
    _reach_tier(escalation, actor, now)
    already_told = (
        Escalation.objects.filter(
            incident_id=escalation.incident_id,
            created_at=escalation.created_at,
            reached_tier_at__isnull=False,
        )
        .exclude(pk=escalation.pk)
        .exists()
    )
    if not already_told:
        # In the requester's name: the customer hears from their agent.
        _tell_customer(escalation, escalation.requested_by)
    return escalation


@transaction.atomic
def reject_escalation(
    *, escalation: Escalation, actor: User, reason: str
) -> Escalation:
    """Refuse an escalation that waits for approval, saying why."""
    escalation = _decidable(escalation, actor, "reject")
    reason = (reason or "").strip()
    if not reason:
        raise _field_error(
            "reason", "Say why the escalation is rejected.", "reason_required"
        )
    now = timezone.now()
    escalation.status = Escalation.Status.REJECTED
    escalation.decided_by, escalation.decided_at = actor, now
    escalation.decision_reason = reason
    escalation.version += 1
    escalation.save()
    _event(
        escalation, TimelineEvent.Kind.ESCALATION_REJECTED, actor, at=now, reason=reason
    )
    return escalation


def _workable(escalation: Escalation, actor: User, verb: str) -> Escalation:
    if not actor.has_perm("escalations.work_escalation"):
        raise PermissionDenied(f"Your role cannot {verb} escalations.")
    escalation = _lock(escalation)
    if not selectors.is_tier_member(actor, escalation.to_tier):
        raise ValidationError(
            f"Only members of {escalation.to_tier.name} can {verb} this escalation.",
            code="not_tier_member",
        )
    return escalation


@transaction.atomic
def acknowledge_escalation(*, escalation: Escalation, actor: User) -> Escalation:
    """Take an escalation in the tier's queue, as one of its members."""
    escalation = _workable(escalation, actor, "acknowledge")
    if not escalation.is_waiting_for_tier:
        raise ValidationError(
            f"This escalation is {escalation.get_status_display().lower()}"
            + (
                " and still waits for a manager's approval"
                if escalation.is_awaiting_approval
                else ""
            )
            + "; only escalations waiting in the queue can be acknowledged.",
            code="not_waiting",
        )
    now = timezone.now()
    escalation.status = Escalation.Status.ACKNOWLEDGED
    escalation.acknowledged_by, escalation.acknowledged_at = actor, now
    escalation.version += 1
    escalation.save()
    _event(escalation, TimelineEvent.Kind.ESCALATION_ACKNOWLEDGED, actor, at=now)
    return escalation


@transaction.atomic
def return_escalation(
    *, escalation: Escalation, actor: User, reason: str
) -> Escalation:
    """Send an escalation back to whoever raised it, saying why."""
    escalation = _workable(escalation, actor, "return")
    if escalation.reached_tier_at is None or not escalation.is_open:
        raise ValidationError(
            "Only escalations in the tier's queue can be returned.",
            code="not_in_queue",
        )
    reason = (reason or "").strip()
    if not reason:
        raise _field_error(
            "reason", "Say why it goes back to the sender.", "reason_required"
        )
    now = timezone.now()
    escalation.status = Escalation.Status.RETURNED
    escalation.closed_by, escalation.closed_at = actor, now
    escalation.outcome = reason
    escalation.version += 1
    escalation.save()
    _event(
        escalation, TimelineEvent.Kind.ESCALATION_RETURNED, actor, at=now, reason=reason
    )
    return escalation


@transaction.atomic
def resolve_escalation(
    *, escalation: Escalation, actor: User, outcome: str = ""
) -> Escalation:
    """Mark the tier's part done, with what it did."""
    escalation = _workable(escalation, actor, "resolve")
    if escalation.status != Escalation.Status.ACKNOWLEDGED:
        raise ValidationError(
            "Acknowledge the escalation before resolving it.",
            code="not_acknowledged",
        )
    now = timezone.now()
    escalation.status = Escalation.Status.RESOLVED
    escalation.closed_by, escalation.closed_at = actor, now
    escalation.outcome = (outcome or "").strip()
    escalation.version += 1
    escalation.save()
    _event(
        escalation,
        TimelineEvent.Kind.ESCALATION_RESOLVED,
        actor,
        at=now,
        reason=escalation.outcome,
    )
    return escalation


# ---------------------------------------------------------------------------
# Scheduled work


def _claim(
    key: str,
    kind: str,
    *,
    incident_id: int,
    now: dt.datetime,
    rule: EscalationRule | None = None,
    escalation: Escalation | None = None,
    slot: int = 0,
) -> bool:
    """Claim one slot of work; False when another sweep already has it."""
    try:
        with transaction.atomic():
            EscalationFiring.objects.create(
                key=key,
                kind=kind,
                incident_id=incident_id,
                rule=rule,
                escalation=escalation,
                slot=slot,
                fired_at=now,
            )
    except IntegrityError:
        return False
    return True


def _skip_locked() -> dict:
    return (
        {"skip_locked": True}
        if connection.features.has_select_for_update_skip_locked
        else {}
    )


def _automatic_candidates(rule: EscalationRule, now: dt.datetime):
    incidents = Incident.objects.filter(
        policy_id=rule.policy_id, status__in=ESCALATABLE_STATUSES
    )
    if rule.priority:
        incidents = incidents.filter(priority=rule.priority)
    if rule.category_id:
        incidents = incidents.filter(category_id=rule.category_id)
    if rule.customer_flag == "vip":
        incidents = incidents.filter(customer__is_vip=True)
    elif rule.customer_flag == "enterprise":
        incidents = incidents.filter(customer__segment="enterprise")
    elif rule.customer_flag == "vip_or_enterprise":
        from django.db.models import Q

        incidents = incidents.filter(
            Q(customer__is_vip=True) | Q(customer__segment="enterprise")
        )
    if rule.open_over_minutes is not None:
        incidents = incidents.filter(
            created_at__lt=now - dt.timedelta(minutes=rule.open_over_minutes)
        )
    if rule.min_customers_affected and rule.min_customers_affected > 1:
        incidents = incidents.filter(is_systemic=True)
    if rule.sla_breach_within_minutes is not None:
        incidents = incidents.filter(
            resolution_due_at__gt=now,
            resolution_due_at__lte=now
            + dt.timedelta(minutes=rule.sla_breach_within_minutes),
        )
    return (
        incidents.filter(selectors.not_fired(rule.pk))
        .select_related("customer", "category", "policy")
        .order_by("created_at", "id")[:SWEEP_BATCH]
    )


def _fire_rule(rule: EscalationRule, incident: Incident, now: dt.datetime) -> int:
    """Escalate ``incident`` as ``rule`` says, once; return escalations made."""
    with transaction.atomic():
        facts = selectors.rule_facts(incident, now=now)
        reasons = selectors.rule_reasons(rule, facts)
        if not reasons:
            return 0
        if not _claim(
            f"rule:{rule.pk}:incident:{incident.pk}",
            EscalationFiring.Kind.RULE,
            incident_id=incident.pk,
            now=now,
            rule=rule,
        ):
            return 0
        made, reached = 0, []
        # A tier already working on the incident (another rule, or an agent)
        # is not handed it a second time.
        busy = set(
            Escalation.objects.filter(
                incident=incident, status__in=Escalation.OPEN_STATUSES
            ).values_list("to_tier_id", flat=True)
        )
        for tier in selectors.rule_tiers(rule, facts):
            if tier.pk in busy:
                continue
            escalation = Escalation.objects.create(
                incident=incident,
                path=tier.default_path or Path.L2,
                from_tier=facts.current_tier,
                to_tier=tier,
                rule=rule,
                needs_approval=rule.needs_approval,
                urgency=rule.urgency,
                summary=f"{rule.name}: " + "; ".join(reasons) + ".",
                why=f"Automatic rule “{rule.name}”"
                + (f" ({rule.source})." if rule.source else "."),
                created_at=now,
            )
            _add_tag(incident, tier.tag, now)
            _event(
                escalation,
                TimelineEvent.Kind.ESCALATION_TRIGGERED,
                None,
                at=now,
                rule=rule.name,
                reasons=reasons,
                urgency=rule.urgency,
                needs_approval=rule.needs_approval,
                version=incident.version,
            )
            if not rule.needs_approval:
                _reach_tier(escalation, None, now)
                reached.append(escalation)
            made += 1
        if reached:
            # As when an agent escalates: the customer hears of it once (not
            # again for a second rule in the same day), and a critical rule
            # (004's Sev 1) raises the urgent alarm.
            if not _customer_told_since(incident, now - CUSTOMER_NOTICE_GAP):
                _tell_customer(reached[0], None)
            if rule.urgency == Urgency.CRITICAL:
                alarmed = [e for e in reached if e.path != Path.URGENT]
                for index, escalation in enumerate(alarmed):
                    _raise_urgent_alarm(escalation, None, now, post=index == 0)
        return made


def _fire_automatic_rules(now: dt.datetime) -> int:
    made = 0
    rules = EscalationRule.objects.filter(is_active=True, is_time_based=True).filter(
        flag="", refund_over__isnull=True, min_port_in_rejections__isnull=True
    )
    for rule in rules.prefetch_related("target_tiers"):
        for incident in _automatic_candidates(rule, now):
            made += _fire_rule(rule, incident, now)
    return made


def _remind(escalation: Escalation, now: dt.datetime) -> int:
    """Remind the tier once per interval while the escalation waits."""
    interval = escalation.to_tier.reminder_minutes
    if not interval:
        return 0
    slot = int((now - escalation.reached_tier_at) / dt.timedelta(minutes=interval))
    if slot < 1:
        return 0
    if not _claim(
        f"reminder:{escalation.pk}:{slot}",
        EscalationFiring.Kind.REMINDER,
        incident_id=escalation.incident_id,
        now=now,
        escalation=escalation,
        slot=slot,
    ):
        return 0
    _alert_tier(
        escalation,
        None,
        prefix=f"Reminder {slot}: still waiting for {escalation.to_tier.name} to "
        "acknowledge.\n",
    )
    _event(escalation, TimelineEvent.Kind.ESCALATION_REMINDED, None, at=now, slot=slot)
    return 1


def _check_in(escalation: Escalation, now: dt.datetime) -> int:
    """Past the tier's target: tell the customer we chased, and ping the team."""
    if escalation.ack_due_at is None or escalation.ack_due_at > now:
        return 0
    if not _claim(
        f"check_in:{escalation.pk}",
        EscalationFiring.Kind.CHECK_IN,
        incident_id=escalation.incident_id,
        now=now,
        escalation=escalation,
    ):
        return 0
    message = _send(
        escalation.incident,
        audience=Audience.CUSTOMER,
        channel=Channel.EMAIL,
        situation="escalation_sla_missed",
        recipients=comms_selectors.customer_addresses(escalation.incident),
        actor=None,
    )
    _alert_tier(
        escalation,
        None,
        prefix=f"{escalation.to_tier.name} missed its response target on this "
        "escalation; please pick it up.\n",
    )
    _event(
        escalation,
        TimelineEvent.Kind.ESCALATION_REMINDED,
        None,
        at=now,
        check_in=True,
        message=message.pk if message else None,
    )
    return 1


def _work_waiting_escalations(now: dt.datetime) -> tuple[int, int]:
    reminders = check_ins = 0
    ids = list(
        selectors.escalations_waiting_for_tier(now).values_list("pk", flat=True)[
            : SWEEP_BATCH * 5
        ]
    )
    for pk in ids:
        with transaction.atomic():
            escalation = (
                Escalation.objects.select_for_update(of=("self",), **_skip_locked())
                .select_related("to_tier", "incident", "rule")
                .filter(pk=pk, status__in=["requested", "approved"])
                .first()
            )
            if escalation is None:
                continue
            reminders += _remind(escalation, now)
            check_ins += _check_in(escalation, now)
    return reminders, check_ins


def _staff_addresses(group: str) -> list[str]:
    return sorted(
        set(
            get_user_model()
            .objects.filter(groups__name=group, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )


def _notify_management(now: dt.datetime) -> int:
    """001: managers, then executives, hear of incidents open past the delays."""
    done = 0
    targets = PolicyTarget.objects.filter(manager_notify_minutes__isnull=False) | (
        PolicyTarget.objects.filter(notifies_executives=True)
    )
    for target in targets.select_related("policy"):
        levels = []
        if target.manager_notify_minutes is not None:
            levels.append(
                ("manager", target.manager_notify_minutes, "Manager", "to_manager")
            )
        if target.notifies_executives:
            levels.append(
                (
                    "executive",
                    target.manager_notify_minutes or 0,
                    "VP",
                    "to_executive",
                )
            )
        for level, minutes, group, situation in levels:
            incidents = Incident.objects.filter(
                policy_id=target.policy_id,
                priority=target.priority,
                status__in=ESCALATABLE_STATUSES,
                created_at__lte=now - dt.timedelta(minutes=minutes),
            ).exclude(escalation_firings__kind=level)
            for incident in incidents.select_related("customer", "category")[
                :SWEEP_BATCH
            ]:
                with transaction.atomic():
                    if not _claim(
                        f"{level}:{incident.pk}",
                        level,
                        incident_id=incident.pk,
                        now=now,
                    ):
                        continue
                    recipients = _staff_addresses(group)
                    message = _send(
                        incident,
                        audience=Audience.INTERNAL,
                        channel=Channel.EMAIL,
                        situation=situation,
                        recipients=recipients,
                        actor=None,
                    )
                    record_timeline_event(
                        incident=incident,
                        kind=TimelineEvent.Kind.MANAGEMENT_NOTIFIED,
                        actor=None,
                        at=now,
                        details={
                            "level": level,
                            "recipients": recipients,
                            "message": message.pk if message else None,
                        },
                    )
                    done += 1
    return done


def due_work(now: dt.datetime) -> dict[str, int]:
    """Fire automatic rules, reminders, check-ins and management notices once."""
    escalated = _fire_automatic_rules(now)
    reminders, check_ins = _work_waiting_escalations(now)
    return {
        "escalations_triggered": escalated,
        "escalation_reminders": reminders,
        "escalation_check_ins": check_ins,
        "management_notified": _notify_management(now),
    }
