"""The war room's status round (fleet escalation playbook, Sev 1 step 5:
every participant gives their status every 15 minutes, the policy's
``war_room_status_minutes``): the sweep posts the call when a round is due."""

import datetime as dt
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from incidents.models import Incident, TimelineEvent
from incidents.services import record_timeline_event

from .. import selectors
from ..models import MessageTemplate
from .messages import send_template

logger = logging.getLogger(__name__)

ROUND_TEMPLATE = "internal-war-room-round"


def call_status_rounds(now: dt.datetime) -> int:
    """Post each open war room's status round that is due; return how many.

    A round is due a full interval after the last one (or the room's
    opening); rounds missed while the sweep was down are not made up: one
    call, from now.
    """
    called = 0
    due = Incident.objects.filter(
        war_room_opened_at__isnull=False,
        status__in=Incident.UNRESOLVED_STATUSES,
        # The war room is a Sev 1's: a downgraded incident's room goes quiet.
        priority="P1",
        policy__war_room_status_minutes__gt=0,
    ).select_related("policy")
    for incident in due:
        every = dt.timedelta(minutes=incident.policy.war_room_status_minutes)
        last = incident.war_room_round_at or incident.war_room_opened_at
        if last + every > now:
            continue
        with transaction.atomic():
            # Claimed by the stamp it read: one sweep calls each round.
            if not Incident.objects.filter(
                Q(war_room_round_at=incident.war_room_round_at)
                if incident.war_room_round_at
                else Q(war_room_round_at__isnull=True),
                pk=incident.pk,
            ).update(war_room_round_at=now):
                continue
            _post_round(incident, now)
        called += 1
    return called


def _post_round(incident: Incident, now: dt.datetime) -> None:
    template = (
        MessageTemplate.objects.filter(
            key=ROUND_TEMPLATE, is_active=True, current_version__isnull=False
        )
        .select_related("current_version")
        .first()
    )
    route = selectors.chat_route_for(incident)
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.WAR_ROOM,
        actor=None,
        at=now,
        details={"round": True},
    )
    if template is None or route is None:
        logger.warning(
            "War room round for %s not posted: no template or no chat route.",
            incident.reference,
        )
        return
    try:
        with transaction.atomic():
            send_template(
                incident=incident,
                version=template.current_version,
                actor=None,
                audience="internal",
                channel="chat",
                stage=template.stage,
                situation="",
                recipients=[route.channel_name],
            )
    except ValidationError as exc:
        logger.warning("War room round for %s not posted: %s", incident.reference, exc)
    except Exception:
        # One incident's broken post must not stop the sweep for the others;
        # the round stays called (stamped), as a missed round is not made up.
        logger.exception("War room round for %s not posted.", incident.reference)


def due_work(now: dt.datetime) -> dict[str, int]:
    return {"war_room_rounds": call_status_rounds(now)}
