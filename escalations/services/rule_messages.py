"""What the automation rules say and to whom, and the one-tier-up step they
share."""

import datetime as dt
import logging

from django.conf import settings

from comms import selectors as comms_selectors
from comms.models import (
    Audience,
    Channel,
    ExternalParty,
    Message,
)
from incidents.models import Incident, TimelineEvent

from .. import selectors
from ..models import Escalation, EscalationFiring
from .notices import (
    escalate_by_rule,
    escalation_event,
    reach_tier,
    send_notice,
    skip_locked,
)

logger = logging.getLogger(__name__)


Kind = EscalationFiring.Kind


def stamp(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def urgent_channel() -> str:
    return getattr(settings, "ESCALATION_URGENT_CHANNEL", "#cs-urgent")


def send_rule_template(
    incident: Incident,
    *,
    key: str,
    audience: str,
    channel: str,
    recipients: list[str],
    party: ExternalParty | None = None,
    prefix: str = "",
) -> Message | None:
    """Send the library template ``key`` as the portal; None if it cannot go."""
    return send_notice(
        incident,
        audience=audience,
        channel=channel,
        situation="",
        recipients=recipients,
        actor=None,
        prefix=prefix,
        template_key=key,
        party=party,
    )


def tell_customer_template(incident: Incident, key: str) -> Message | None:
    return send_rule_template(
        incident,
        key=key,
        audience=Audience.CUSTOMER,
        channel=Channel.EMAIL,
        recipients=comms_selectors.customer_addresses(incident),
    )


def post_urgent_alert(incident: Incident, prefix: str) -> Message | None:
    return send_rule_template(
        incident,
        key="internal-urgent-escalation",
        audience=Audience.INTERNAL,
        channel=Channel.CHAT,
        recipients=[urgent_channel()],
        prefix=prefix,
    )


def escalate_one_tier_up(
    incident: Incident, *, now: dt.datetime, reason: str, urgency: str
) -> Escalation | None:
    """Hand the incident to the tier above the one it sits at, as the system.

    None when its policy has no tier above (or no tiers at all).
    """
    facts = selectors.rule_facts(incident, now=now)
    tier = selectors.next_tier(facts.current_tier, facts.tiers)
    if tier is None:
        return None
    escalation = escalate_by_rule(
        incident,
        to_tier=tier,
        from_tier=facts.current_tier,
        urgency=urgency,
        summary=reason,
        why="Raised by the portal's automatic rules.",
        now=now,
    )
    escalation_event(
        escalation,
        TimelineEvent.Kind.ESCALATION_TRIGGERED,
        None,
        at=now,
        rule=reason,
        reasons=[reason],
        urgency=urgency,
        version=incident.version,
    )
    reach_tier(escalation, None, now)
    return escalation


def locked_incident(pk: int, statuses) -> Incident | None:
    return (
        Incident.objects.select_for_update(of=("self",), **skip_locked())
        .select_related("customer", "category", "policy")
        .filter(pk=pk, status__in=list(statuses))
        .first()
    )
