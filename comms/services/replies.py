"""Replies from customers, partners and vendors: logged on the incident, and
the replying side's follow-up loop moved on."""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Incident, TimelineEvent

from ..models import (
    ExternalParty,
    Reply,
)
from .loops import note_reply
from .outbound import _field_error


@transaction.atomic
def log_reply(
    *,
    incident: Incident,
    actor,
    sender_kind: str,
    text: str,
    received_at: dt.datetime | None = None,
    kind: str = Reply.Kind.REPLY,
    party: ExternalParty | None = None,
    sender_name: str = "",
    by_email: bool = False,
) -> Reply:
    """Record what a customer, partner or vendor answered.

    ``by_email``: the reply came in by e-mail and threaded itself (the
    timeline says so instead of naming who logged it).
    """
    now = timezone.now()
    received_at = received_at or now
    if not text.strip():
        raise _field_error("text", "Paste or summarise what they said.", "empty")
    if received_at > now:
        raise _field_error(
            "received_at", "A reply cannot come from the future.", "future_reply"
        )
    if kind == Reply.Kind.CONFIRMED and sender_kind != Reply.From.CUSTOMER:
        raise _field_error(
            "kind", "Only the customer can confirm the fix.", "not_customer"
        )
    if sender_kind in (Reply.From.PARTNER, Reply.From.VENDOR) and party is None:
        raise _field_error("party", f"Pick the {sender_kind}.", "party_required")
    reply = Reply.objects.create(
        incident=incident,
        sender_kind=sender_kind,
        party=party,
        sender_name=sender_name,
        kind=kind,
        text=text.strip(),
        received_at=received_at,
        logged_by=actor,
    )
    incident_services.record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.REPLY_RECEIVED
        if by_email
        else TimelineEvent.Kind.REPLY_LOGGED,
        actor=actor,
        details={
            "reply": reply.pk,
            "from": sender_kind,
            "party": party.name if party else "",
            "name": sender_name,
            "confirmed": kind == Reply.Kind.CONFIRMED,
            "received_at": received_at.isoformat(),
            "text": text.strip()[:500],
        },
    )
    note_reply(
        incident=incident,
        sender_kind=sender_kind,
        party=party,
        received_at=received_at,
        actor=actor,
    )
    return reply
