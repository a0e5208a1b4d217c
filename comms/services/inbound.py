"""E-mail that reaches the portal: thread it to its incident, or keep it for triage."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Customer, Incident, TimelineEvent

from .. import mail_threads
from ..models import Audience, ExternalParty, InboundMail, Message, Reply
from .replies import log_reply

TEXT_LIMIT = 20_000


def _threaded_message(parsed: mail_threads.ParsedMail) -> tuple[Message | None, str]:
    """Return the portal message a reply answers, and how it was found."""
    for pk in mail_threads.referenced_message_ids(
        parsed.references, parsed.in_reply_to
    ):
        message = Message.objects.select_related("incident", "party").filter(pk=pk)
        if message := message.first():
            return message, "header"
    pk = mail_threads.token_message_id(parsed.to_addresses)
    if pk is not None:
        message = (
            Message.objects.select_related("incident", "party").filter(pk=pk).first()
        )
        if message is not None:
            return message, "reply address"
    return None, ""


def sender_known(message: Message, address: str) -> bool:
    """Return whether ``address`` may answer ``message`` by itself.

    It received that message, or it is a known contact of the incident's
    customers (or the message's party).
    """
    address = (address or "").strip().lower()
    if not address:
        return False
    if address in {r.lower() for r in [*message.recipients, *message.delivered_to]}:
        return True
    if message.party is not None and message.party.accepts_address(address):
        return True
    return is_known_contact(message.incident, address)


def is_known_contact(incident: Incident, address: str) -> bool:
    """Return whether ``address`` belongs to a customer of ``incident``."""
    address = (address or "").strip().lower()
    if not address:
        return False
    customers = Customer.objects.filter(
        Q(incidents=incident) | Q(affected_by__incident=incident)
    )
    return customers.filter(email__iexact=address).exists()


def _sender(
    incident: Incident, message: Message | None, address: str
) -> tuple[str, ExternalParty | None]:
    """Return who wrote: the party the answered message went to, else by address."""
    if (
        message is not None
        and message.audience in (Audience.PARTNER, Audience.VENDOR)
        and message.party
        and message.party.accepts_address(address)
    ):
        return message.party.kind, message.party
    for party in ExternalParty.objects.filter(is_active=True):
        if party.accepts_address(address):
            return party.kind, party
    return Reply.From.CUSTOMER, None


def _confirms(incident: Incident, text: str) -> bool:
    """Return whether the policy trusts a keyword in this reply as confirmation."""
    keywords = [
        line.strip().lower()
        for line in incident.policy.confirmation_keywords.splitlines()
        if line.strip()
    ]
    lowered = text.lower()
    return any(keyword in lowered for keyword in keywords)


def _land(
    mail: InboundMail,
    *,
    incident: Incident,
    message: Message | None,
    actor,
    matched_by: str,
    sender_kind: str | None = None,
    party: ExternalParty | None = None,
) -> InboundMail:
    if sender_kind is None:
        sender_kind, party = _sender(incident, message, mail.from_address)
    text = mail_threads.reply_text(mail.text) or mail.text.strip() or mail.subject
    text = text or "(empty e-mail)"
    kind = (
        Reply.Kind.CONFIRMED
        if sender_kind == Reply.From.CUSTOMER and _confirms(incident, text)
        else Reply.Kind.REPLY
    )
    reply = log_reply(
        incident=incident,
        actor=actor,
        sender_kind=sender_kind,
        text=text[:TEXT_LIMIT],
        received_at=mail.received_at,
        kind=kind,
        party=party,
        sender_name=(mail.from_name or mail.from_address)[:120],
        by_email=True,
    )
    mail.status = InboundMail.Status.MATCHED
    mail.incident, mail.reply, mail.matched_by = incident, reply, matched_by
    if actor is not None:
        mail.handled_by, mail.handled_at = actor, timezone.now()
    mail.save()
    incident.refresh_from_db()
    # An unknown sender's mail lands (a person put it there) but never
    # reopens anything by itself.
    trusted = (
        sender_known(message, mail.from_address)
        if message is not None
        else is_known_contact(incident, mail.from_address)
    )
    if sender_kind == Reply.From.CUSTOMER and trusted:
        _reopen_on_customer_reply(incident, reply, actor)
    return mail


def _reopen_on_customer_reply(incident: Incident, reply: Reply, actor) -> None:
    """Reopen a closed incident the customer wrote back about.

    From the carrier communication playbook, part 6.

    Closed pending their answer: any answer reopens it. Closed as resolved:
    the closing e-mail says a reply brings it back, so one does, unless it
    only confirms the fix. An archived incident stays as it is; the reply
    is on its timeline.
    """
    if incident.archived_at is not None:
        return
    if incident.status == Incident.Status.CLOSED_PENDING:
        reason = (
            "The customer replied by e-mail after it was closed pending their answer."
        )
    elif (
        incident.status == Incident.Status.CLOSED and reply.kind != Reply.Kind.CONFIRMED
    ):
        reason = "The customer wrote back by e-mail after it was closed."
    else:
        return
    incident_services.reopen_incident(incident=incident, actor=actor, reason=reason)


@transaction.atomic
def receive_email(
    *, parsed: mail_threads.ParsedMail, source: str, received_at=None
) -> InboundMail:
    """Store an e-mail and land it on its incident as a reply, if it threads.

    The same Message-ID twice (a provider retrying) is stored once. Mail
    that names no message of ours waits on the triage list.
    """
    received_at = received_at or timezone.now()
    size = len(parsed.text)
    parsed, replaced = mail_threads.storable(parsed)
    message_id = parsed.message_id.strip()[:300]
    if message_id:
        existing = InboundMail.objects.filter(message_id=message_id).first()
        if existing is not None:
            return existing
    mail = InboundMail(
        source=source,
        message_id=message_id,
        in_reply_to=parsed.in_reply_to[:300],
        references=parsed.references,
        from_address=parsed.from_address[:320],
        from_name=parsed.from_name[:200],
        to_addresses=parsed.to_addresses,
        subject=" ".join(parsed.subject.split())[:300],
        text=parsed.text[:TEXT_LIMIT],
        received_at=received_at,
        status=InboundMail.Status.UNMATCHED,
        note=(
            f"{replaced} character(s) no database stores were replaced; the "
            f"text had {size:,} characters."
            if replaced
            else ""
        ),
    )
    try:
        with transaction.atomic():
            mail.save()
    except IntegrityError:
        return InboundMail.objects.get(message_id=message_id)
    message, matched_by = _threaded_message(parsed)
    if message is None:
        return mail
    if not sender_known(message, mail.from_address):
        # Threading headers are easy to copy: a reply lands by itself only
        # from someone we wrote to, or a known contact; a person triages
        # the rest.
        mail.note = " ".join(
            filter(
                None,
                [
                    f"Names {message.incident.reference}, but {mail.from_address} "
                    "was not written to and is no known contact of its customer "
                    "or party.",
                    mail.note,
                ],
            )
        )[:300]
        mail.save(update_fields=["note"])
        return mail
    return _land(
        mail,
        incident=message.incident,
        message=message,
        actor=None,
        matched_by=matched_by,
    )


def _triageable(mail: InboundMail, actor) -> InboundMail:
    if not actor.has_perm("comms.triage_inbound_mail"):
        raise PermissionDenied("You may not triage inbound e-mail.")
    mail = InboundMail.objects.select_for_update().get(pk=mail.pk)
    if mail.status != InboundMail.Status.UNMATCHED:
        raise ValidationError(
            "This e-mail was already handled.", code="already_handled"
        )
    return mail


@transaction.atomic
def attach_inbound_mail(
    *,
    mail: InboundMail,
    actor,
    incident: Incident,
    sender_kind: str = "",
    party: ExternalParty | None = None,
) -> InboundMail:
    """Land an unmatched e-mail on the incident a person picked."""
    mail = _triageable(mail, actor)
    if sender_kind in (Reply.From.PARTNER, Reply.From.VENDOR) and party is None:
        raise ValidationError(
            {"party": ValidationError(f"Pick the {sender_kind}.", code="party")}
        )
    return _land(
        mail,
        incident=incident,
        message=None,
        actor=actor,
        matched_by="person",
        sender_kind=sender_kind or None,
        party=party,
    )


@transaction.atomic
def dismiss_inbound_mail(*, mail: InboundMail, actor, note: str) -> InboundMail:
    """Set an unmatched e-mail aside (spam, out of office), saying why."""
    mail = _triageable(mail, actor)
    if not note.strip():
        raise ValidationError(
            {"note": ValidationError("Say why it is set aside.", code="note")}
        )
    mail.status = InboundMail.Status.DISMISSED
    mail.note = note.strip()[:300]
    mail.handled_by, mail.handled_at = actor, timezone.now()
    mail.save()
    return mail


@transaction.atomic
def confirm_customer_reply(*, reply: Reply, actor) -> Reply:
    """Record a person's reading that the customer's reply confirms the fix."""
    if not actor.has_perm("comms.add_reply"):
        raise PermissionDenied("You may not log replies.")
    reply = (
        Reply.objects.select_for_update().select_related("incident").get(pk=reply.pk)
    )
    if reply.sender_kind != Reply.From.CUSTOMER:
        raise ValidationError(
            "Only the customer can confirm the fix.", code="not_customer"
        )
    if reply.kind == Reply.Kind.CONFIRMED:
        raise ValidationError("Already marked as confirmed.", code="already_confirmed")
    reply.kind = Reply.Kind.CONFIRMED
    reply.save(update_fields=["kind"])
    incident_services.record_timeline_event(
        incident=reply.incident,
        kind=TimelineEvent.Kind.REPLY_LOGGED,
        actor=actor,
        details={
            "from": reply.sender_kind,
            "confirmed": True,
            "reply": reply.pk,
            "received_at": reply.received_at.isoformat(),
            "text": "Marked as confirming the fix.",
        },
    )
    return reply
