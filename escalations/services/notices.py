"""What every escalation service shares: its timeline entry, the row lock, and
the notices it sends (the customer, the tier's channel, the urgent alarm)."""

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from comms import catalogue
from comms import selectors as comms_selectors
from comms import services as comms_services
from comms.models import Audience, Channel, Message, Stage
from incidents import lifecycle
from incidents.models import Incident, Priority, TimelineEvent
from incidents.services import record_timeline_event

from .. import paging
from ..models import (
    PATH_SITUATIONS,
    Escalation,
    EscalationFiring,
    EscalationRule,
    PageDelivery,
    Path,
    Urgency,
)
from . import paging as paging_services

User = AbstractBaseUser


logger = logging.getLogger(__name__)


# Incidents the sweep still escalates: resolved ones wait for closure only.
ESCALATABLE_STATUSES = sorted(lifecycle.runs_while("escalation_rules"))


# Work one sweep does per rule at most, so a backlog cannot stall the minute.
SWEEP_BATCH = 200


def field_error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def person_name(user: User | None) -> str:
    if user is None:
        return "the portal"
    return user.get_full_name() or user.get_username()


def escalation_event(
    escalation: Escalation, kind: str, actor: User | None, at=None, **details: Any
) -> TimelineEvent:
    # However the escalation moved, a pager alert it opened moves with it.
    paging_services.follow_escalation(escalation, kind)
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


def lock_escalation(escalation: Escalation) -> Escalation:
    return (
        Escalation.objects.select_for_update(of=("self",))
        .select_related("incident", "to_tier")
        .get(pk=escalation.pk)
    )


def send_notice(
    incident: Incident,
    *,
    audience: str,
    channel: str,
    situation: str,
    recipients: list[str],
    actor: User | None,
    prefix: str = "",
    template_key: str = "",
    party=None,
    escalation: Escalation | None = None,
) -> Message | None:
    """Send the library's escalation template for ``situation`` (or the
    template ``template_key``, at its own stage); None if none fits.

    A message that cannot go (no address, a broken template) must not undo
    the escalation or the rule, so it runs in a savepoint and is logged.
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
        logger.warning(
            "Message %s for %s not sent: no template or no recipient.",
            template_key or situation,
            incident.reference,
        )
        return None
    try:
        with transaction.atomic():
            return comms_services.send_template(
                incident=incident,
                version=template.current_version,
                actor=actor,
                audience=audience,
                channel=channel,
                stage=template.stage if template_key else Stage.ESCALATION,
                situation=situation or template.situation,
                recipients=recipients,
                party=party,
                prefix=prefix,
                sender_name=person_name(actor) if actor else "",
                escalation=escalation_words(escalation) if escalation else None,
            )
    except ValidationError as exc:
        logger.warning(
            "Message %s for %s not sent: %s",
            template_key or situation,
            incident.reference,
            exc,
        )
        return None


def tell_customer(escalation: Escalation, actor: User | None) -> Message | None:
    """Tell the customer who has their case now, and keep the promise of how
    soon they hear from us (the tier's own, where it sets one)."""
    incident = escalation.incident
    message = send_notice(
        incident,
        audience=Audience.CUSTOMER,
        channel=Channel.EMAIL,
        situation=PATH_SITUATIONS[escalation.path],
        recipients=comms_selectors.customer_addresses(incident),
        actor=actor,
        escalation=escalation,
    )
    minutes, _ = catalogue.customer_promise(
        incident, escalation.to_tier.customer_update_minutes
    )
    if message is not None and minutes:
        comms_services.keep_customer_posted_within(
            incident=incident,
            minutes=minutes,
            reason=f"promised on escalating to {escalation.to_tier.name}",
        )
    return message


# Escalation notices the rules send a customer at most once in this span.
CUSTOMER_NOTICE_GAP = dt.timedelta(hours=24)


def customer_told_since(incident: Incident, since: dt.datetime) -> bool:
    """Whether the customer heard (or is about to hear) of an escalation since
    ``since``: messages taken back or refused do not count."""
    return (
        Message.objects.filter(
            incident=incident,
            audience=Audience.CUSTOMER,
            stage=Stage.ESCALATION,
            created_at__gte=since,
        )
        .exclude(
            status__in=[
                Message.Status.WITHDRAWN,
                Message.Status.SUPPRESSED,
                Message.Status.CANCELLED,
                Message.Status.REJECTED,
            ]
        )
        .exists()
    )


def escalation_words(escalation: Escalation) -> dict[str, str]:
    """What a message may say of the escalation itself: who raised it, who
    approved it (a manager's approval is not their escalation), what was
    tried."""
    approved_by = ""
    if (
        escalation.decided_by_id
        and escalation.decided_by_id != escalation.requested_by_id
    ):
        approved_by = person_name(escalation.decided_by)
    return {
        "tier": escalation.to_tier.name,
        "raised_by": person_name(escalation.requested_by)
        if escalation.requested_by_id
        else f"the rule “{escalation.rule.name}”"
        if escalation.rule_id
        else "a rule",
        "approved_by": approved_by,
        "summary": escalation.summary,
        "promise": catalogue.customer_promise(
            escalation.incident, escalation.to_tier.customer_update_minutes
        )[1],
        "why": escalation.path_details.get("why_urgent", ""),
        "risk": escalation.path_details.get("immediate_risk", ""),
        # One step per line, each its own list item however long.
        "tried": "\n".join(
            f"- {step.strip()}"
            for step in escalation.tried.splitlines()
            if step.strip()
        ),
    }


def tier_channel(escalation: Escalation) -> list[str]:
    if escalation.to_tier.chat_channel:
        return [escalation.to_tier.chat_channel]
    route = comms_selectors.chat_route_for(escalation.incident)
    return [route.channel_name] if route else []


def alert_tier(escalation: Escalation, actor: User | None, prefix: str = "") -> None:
    # Several tiers may share a channel (or the incident's route): each post
    # says whose queue it is in (reminders and check-ins name it already).
    prefix = prefix or f"For {escalation.to_tier.name}: "
    send_notice(
        escalation.incident,
        audience=Audience.INTERNAL,
        channel=Channel.CHAT,
        situation="",
        template_key="internal-escalation-chat",
        recipients=tier_channel(escalation),
        actor=actor,
        prefix=prefix,
        escalation=escalation,
    )


# The time frame each urgency's label promises ("High · within 4 h").
URGENCY_ACK_MINUTES = {
    Urgency.MEDIUM: 24 * 60,
    Urgency.HIGH: 4 * 60,
    Urgency.CRITICAL: 15,
}


def acknowledge_due_at(escalation: Escalation, now: dt.datetime) -> dt.datetime | None:
    """Return when the tier must pick it up: the soonest of its own target,
    the rule's time frame and the time frame its urgency promises."""
    tier = escalation.to_tier
    frames = [
        tier.response_target_minutes,
        escalation.rule.respond_within_minutes if escalation.rule_id else None,
        URGENCY_ACK_MINUTES.get(escalation.urgency),
        tier.p1_response_target_minutes
        if escalation.incident.priority == Priority.P1
        else None,
    ]
    minutes = min((m for m in frames if m), default=None)
    return None if minutes is None else now + dt.timedelta(minutes=minutes)


def reach_tier(escalation: Escalation, actor: User | None, now: dt.datetime) -> None:
    """Put the escalation in its tier's queue and tell the tier."""
    escalation.reached_tier_at = now
    escalation.ack_due_at = acknowledge_due_at(escalation, now)
    escalation.save(update_fields=["reached_tier_at", "ack_due_at", "updated_at"])
    alert_tier(escalation, actor)
    paged = pages_at_once(escalation)
    if paged:
        page_on_call(escalation, actor, why="Sev 1")
    if escalation.path == Path.URGENT:
        raise_urgent_alarm(escalation, actor, now, page=not paged)


def pages_at_once(escalation: Escalation) -> bool:
    """Whether the tier pages its on-call person as soon as this arrives: a
    Sev 1 at a tier that pages for Sev 1 in working hours too (fleet
    escalation playbook: "if Sev 1, page the on-call engineer")."""
    tier = escalation.to_tier
    return (
        tier.has_on_call
        and tier.pages_on_call_for_p1
        and escalation.incident.priority == Priority.P1
    )


def raise_urgent_alarm(
    escalation: Escalation,
    actor: User | None,
    now: dt.datetime,
    *,
    post: bool = True,
    page: bool = True,
) -> None:
    """Post the urgent alert with @channel; page on-call out of hours.

    From the carrier escalation guide.

    ``post=False`` only pages: for the other tiers of one critical firing,
    whose alert the first tier's call already posted.
    """
    if post:
        channel = getattr(settings, "ESCALATION_URGENT_CHANNEL", "#cs-urgent")
        message = send_notice(
            escalation.incident,
            audience=Audience.INTERNAL,
            channel=Channel.CHAT,
            situation="urgent",
            template_key="internal-urgent-escalation",
            recipients=[channel],
            actor=actor,
            prefix="@channel ",
            escalation=escalation,
        )
        escalation_event(
            escalation,
            TimelineEvent.Kind.URGENT_ALERT_POSTED,
            actor,
            channel=channel,
            message=message.pk if message else None,
        )
    tier, incident = escalation.to_tier, escalation.incident
    if not page or not tier.has_on_call or tier.is_working_at(now):
        return
    if tier.on_call_top_priority_only and incident.priority != Priority.P1:
        return
    page_on_call(escalation, actor, why="URGENT")


def page_on_call(escalation: Escalation, actor: User | None, *, why: str) -> None:
    """Page the tier's on-call person, once the escalation is committed."""
    tier, incident = escalation.to_tier, escalation.incident
    escalation_event(
        escalation,
        TimelineEvent.Kind.ON_CALL_PAGED,
        actor,
        contact=tier.on_call_contact or "on-call",
    )
    contact = tier.on_call_contact
    subject = f"{why} {incident.reference}: {incident.title}"
    text = escalation.path_details.get("why_urgent", "") or escalation.summary
    if tier.pager:
        paging_services.queue_page(
            escalation,
            PageDelivery.Action.TRIGGER,
            subject=subject,
            text=text,
            contact=contact,
        )
        return
    transaction.on_commit(
        lambda: paging.pager().page(contact=contact, subject=subject, text=text)
    )


def add_tag(incident: Incident, tag: str, now: dt.datetime) -> None:
    """Add an escalation tag and bump the version so stale edits stop.

    From the carrier escalation guide's tagging rules.
    """
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


def claim_firing(
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


def skip_locked() -> dict:
    return (
        {"skip_locked": True}
        if connection.features.has_select_for_update_skip_locked
        else {}
    )


def escalate_by_rule(
    incident: Incident,
    *,
    to_tier,
    from_tier,
    urgency: str,
    summary: str,
    why: str,
    now: dt.datetime,
    rule: EscalationRule | None = None,
) -> Escalation:
    """Create an escalation the portal raises by itself (a rule, one tier up),
    tagging the incident with the tier."""
    escalation = Escalation.objects.create(
        incident=incident,
        # The incident's own reading of the customer.
        sentiment=incident.sentiment,
        path=to_tier.default_path or Path.L2,
        from_tier=from_tier,
        to_tier=to_tier,
        rule=rule,
        needs_approval=bool(rule and rule.needs_approval),
        stops_customer_contact=bool(rule and rule.stops_customer_contact),
        urgency=urgency,
        summary=summary,
        why=why,
        created_at=now,
    )
    add_tag(incident, to_tier.tag, now)
    return escalation
