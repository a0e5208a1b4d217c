"""What the automation rules say and to whom, and the one-tier-up step they
share."""

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from comms import selectors as comms_selectors
from comms import services as comms_services
from comms.models import (
    Audience,
    Channel,
    ExternalParty,
    Message,
    MessageTemplate,
)
from incidents.models import Incident, TimelineEvent

from .. import selectors
from ..models import Escalation, EscalationFiring, Path
from .notices import (
    add_tag,
    escalation_event,
    reach_tier,
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
    """Send the library template ``key`` through comms; None if it cannot go.

    A message that cannot go (no address, a retired template) must not undo
    the rule's record, so it runs in a savepoint and is logged.
    """
    template = (
        MessageTemplate.objects.filter(
            key=key, is_active=True, current_version__isnull=False
        )
        .select_related("current_version")
        .first()
    )
    if template is None or not recipients:
        logger.warning("Rule message %s for %s not sent.", key, incident.reference)
        return None
    try:
        with transaction.atomic():
            return comms_services.send_template(
                incident=incident,
                version=template.current_version,
                actor=None,
                audience=audience,
                channel=channel,
                stage=template.stage,
                situation=template.situation,
                recipients=recipients,
                party=party,
                prefix=prefix,
            )
    except ValidationError as exc:
        logger.warning(
            "Rule message %s for %s not sent: %s", key, incident.reference, exc
        )
        return None


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
    escalation = Escalation.objects.create(
        incident=incident,
        # The incident's own reading of the customer.
        sentiment=incident.sentiment,
        path=tier.default_path or Path.L2,
        from_tier=facts.current_tier,
        to_tier=tier,
        urgency=urgency,
        summary=reason,
        why="Raised by the portal's automatic rules.",
        created_at=now,
    )
    add_tag(incident, tier.tag, now)
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
