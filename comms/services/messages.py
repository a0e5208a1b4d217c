"""Changes to messages: compose, approve, deliver, log replies."""

import contextlib
import datetime as dt
from collections.abc import Iterator
from contextvars import ContextVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_q.tasks import async_task

from incidents import selectors as incident_selectors
from incidents import services as incident_services
from incidents.models import Incident, TimelineEvent

from .. import catalogue, channels, selectors
from ..models import (
    Audience,
    Channel,
    DeliveryRule,
    ExternalParty,
    Message,
    MessageTemplateVersion,
    Reply,
    Situation,
    Stage,
)
from .templates import preview_template

User = AbstractBaseUser

DEDUP_WINDOW = dt.timedelta(hours=24)


def _check_recipients(channel: str, recipients: list[str]) -> list[str]:
    # The same address twice would mean two identical e-mails to one
    # customer (each customer gets an e-mail of their own).
    cleaned, seen = [], set()
    for recipient in (r.strip() for r in recipients if r and r.strip()):
        if recipient.lower() not in seen:
            seen.add(recipient.lower())
            cleaned.append(recipient)
    if channel == Channel.EMAIL:
        if not cleaned:
            raise _field_error(
                "recipients", "Add at least one e-mail address.", "no_recipients"
            )
        for address in cleaned:
            try:
                validate_email(address)
            except ValidationError:
                raise _field_error(
                    "recipients",
                    f"“{address}” is not a valid e-mail address.",
                    "bad_recipient",
                ) from None
    if channel == Channel.CHAT and not cleaned:
        raise _field_error(
            "recipients",
            "Name the chat channel (no chat route matches this incident).",
            "no_recipients",
        )
    return cleaned


def _field_error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def _check_staff_addresses(recipients: list[str]) -> None:
    """Internal e-mail goes to staff only, so it cannot bypass approval rules."""
    wanted = {r.strip().lower() for r in recipients if r.strip()}
    staff = {
        email.lower()
        for email in get_user_model()
        .objects.filter(is_active=True, email__in=[*wanted, *recipients])
        .values_list("email", flat=True)
    }
    outsiders = sorted(wanted - staff)
    if outsiders:
        raise _field_error(
            "recipients",
            f"Internal e-mail goes to staff addresses only; {', '.join(outsiders)} "
            "is not one. Pick the customer, partner or vendor audience instead.",
            "not_staff",
        )


def _check_party_addresses(party: ExternalParty, recipients: list[str]) -> None:
    """A partner or vendor message goes to that party's own addresses only.

    Anything else would be a customer (or anyone) written to under the
    partner's delivery rules, skipping the approval customers' messages need.
    """
    outsiders = [r for r in recipients if not party.accepts_address(r)]
    if outsiders:
        raise _field_error(
            "recipients",
            f"{', '.join(outsiders)} is not an address of {party.name}. Messages "
            f"to a {party.get_kind_display().lower()} go only to its own contacts "
            "or domains (an admin can add them on the party); to write to a "
            "customer, pick the customer audience.",
            "not_party_address",
        )


# Messages that tell the customer what was wrong and what was done.
FACT_STAGES = (Stage.RESOLUTION, Stage.POST_INCIDENT)


def _check_resolution_facts(message: Message) -> None:
    """Refuse to tell a customer it is fixed before the incident says how."""
    if message.audience != Audience.CUSTOMER or message.stage not in FACT_STAGES:
        return
    if message.situation == Situation.CREDIT_APPROVED:
        # A credit's notice tells of money granted, not of a fix (issue 12).
        return
    missing = missing_resolution_facts(message.incident)
    if missing:
        raise ValidationError(
            f"Before telling the customer it is fixed, fill in on the incident: "
            f"{' and '.join(missing)}.",
            code="resolution_facts_missing",
        )


def missing_resolution_facts(incident: Incident) -> list[str]:
    """Return what a customer resolution message needs and the incident lacks."""
    missing = []
    if not incident.customer_summary.strip():
        missing.append("what the customer is told")
    if not incident.fix_summary.strip():
        missing.append("what we did to fix it")
    return missing


CLOSURE_STAGES = (Stage.CLOSURE, Stage.AUTO_CLOSE)


def _dedup_kind(message: Message) -> str | None:
    """Return which allowance a customer message uses, if any.

    Proactive and follow-up messages get one each per 24 hours and root
    cause (000 part 7); a closure notice goes once per closing.
    """
    if message.audience != Audience.CUSTOMER:
        return None
    if message.stage == Stage.FOLLOW_UP:
        return "follow_up"
    if message.stage == Stage.CREATION and message.situation == Situation.PROACTIVE:
        return "proactive"
    if message.stage in CLOSURE_STAGES:
        return "closure"
    return None


def _duplicate_of(message: Message, now: dt.datetime) -> Message | None:
    """Return a live message this one would repeat (000 part 7), if any.

    Same customer address, same kind (proactive or follow-up), within 24 h,
    about the same incident or another incident with the same root cause.
    """
    kind = _dedup_kind(message)
    if kind is None:
        return None
    same_cause = Q(incident=message.incident)
    root_cause = message.incident.root_cause.strip()
    since = now - DEDUP_WINDOW
    if kind == "closure":
        # Closing one incident says nothing about another with the same
        # cause; but one notice per closing, however long ago it closed.
        kind_q = Q(stage__in=CLOSURE_STAGES)
        closed_at = message.incident.closed_at
        if closed_at is not None:
            since = min(since, closed_at)
    else:
        if root_cause:
            same_cause |= Q(incident__root_cause__iexact=root_cause)
        kind_q = (
            Q(stage=Stage.FOLLOW_UP)
            if kind == "follow_up"
            else Q(stage=Stage.CREATION, situation=Situation.PROACTIVE)
        )
    candidates = (
        Message.objects.annotate(
            # When it left (or will leave), not when someone started writing
            # it: a draft or an approval can sit for a day.
            released_at=Coalesce("sent_at", "queued_at", "send_after", "created_at")
        )
        .filter(
            kind_q,
            same_cause,
            audience=Audience.CUSTOMER,
            status__in=selectors.LIVE_MESSAGE_STATUSES,
            released_at__gte=since,
        )
        .exclude(pk=message.pk)
        .order_by("-created_at")
    )
    wanted = set(message.recipients)
    return next((m for m in candidates if set(m.recipients) & wanted), None)


def _event(message: Message, kind: str, actor, **details) -> None:
    incident_services.record_timeline_event(
        incident=message.incident,
        kind=kind,
        actor=actor,
        details={
            "message": message.pk,
            "audience": message.audience,
            "channel": message.channel,
            "subject": message.subject,
            # Closure evidence and metrics read what was said at which stage.
            "stage": message.stage,
            **details,
        },
    )


def _release(message: Message, actor, now: dt.datetime) -> Message:
    """Queue, schedule or suppress a message cleared to leave."""
    if _dedup_kind(message) in ("follow_up", "proactive"):
        # Two sends racing for the same customer would both pass the
        # duplicate check; holding the incident rows (and those sharing the
        # root cause, which share the allowance) makes them take turns.
        same_cause = Q(pk=message.incident_id)
        if message.incident.root_cause.strip():
            same_cause |= Q(root_cause__iexact=message.incident.root_cause.strip())
        list(
            Incident.objects.select_for_update()
            .filter(same_cause)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    duplicate = _duplicate_of(message, now)
    if duplicate is not None:
        message.status = Message.Status.SUPPRESSED
        about = (
            "this closing"
            if _dedup_kind(message) == "closure"
            else "this root cause within 24 hours"
        )
        message.status_reason = (
            f"The customer already got a {duplicate.get_stage_display().lower()} "
            f"message about {about} (message {duplicate.pk})."
        )
        message.save()
        _event(
            message,
            TimelineEvent.Kind.MESSAGE_SUPPRESSED,
            actor,
            reason=message.status_reason,
        )
        return message
    if message.send_after and message.send_after > now:
        message.status = Message.Status.SCHEDULED
        message.save()
        _event(
            message,
            TimelineEvent.Kind.MESSAGE_QUEUED,
            actor,
            send_after=message.send_after.isoformat(),
        )
        return message
    message.status = Message.Status.QUEUED
    message.queued_at = now
    message.next_attempt_at = now
    message.save()
    _event(message, TimelineEvent.Kind.MESSAGE_QUEUED, actor)
    _enqueue_delivery(message.pk)
    return message


# While ``deliveries_enqueued_together()`` runs, the deliveries it queues
# wait here and reach the task queue in one transaction when it ends.
_held_deliveries: ContextVar[list[int] | None] = ContextVar(
    "held_deliveries", default=None
)


def _enqueue_delivery(message_id: int) -> None:
    held = _held_deliveries.get()
    if held is not None:
        held.append(message_id)
    else:
        transaction.on_commit(lambda: _enqueue_deliveries([message_id]))


# Messages handed to one task: few enough that their sends fit well in
# the task timeout, many enough that a busy sweep writes few tasks.
DELIVERIES_PER_TASK = 10


def _enqueue_deliveries(message_ids: list[int]) -> None:
    with transaction.atomic():
        for start in range(0, len(message_ids), DELIVERIES_PER_TASK):
            group = message_ids[start : start + DELIVERIES_PER_TASK]
            if len(group) == 1:
                async_task("comms.tasks.deliver_message", group[0])
            else:
                async_task("comms.tasks.deliver_messages", group)


@contextlib.contextmanager
def deliveries_enqueued_together() -> Iterator[None]:
    """Hand the messages queued in the block to the workers together, at its end.

    One commit for a whole chunk of follow-ups, instead of one per message,
    once the block's own transaction has committed (at once if it ran
    outside a transaction). A message whose savepoint rolled back is handed
    over anyway; its task finds nothing to claim.
    """
    held: list[int] = []
    token = _held_deliveries.set(held)
    try:
        yield
    finally:
        _held_deliveries.reset(token)
    if held:
        transaction.on_commit(lambda: _enqueue_deliveries(held))


def _check_security_notice(
    incident: Incident, situation: str, version: MessageTemplateVersion | None
) -> None:
    """Refuse a security notice to customers until Legal approved it (004)."""
    is_notice = situation == Situation.SECURITY_NOTICE or (
        version is not None and version.template.situation == Situation.SECURITY_NOTICE
    )
    if is_notice and not incident_selectors.security_notice_cleared(incident):
        raise ValidationError(
            "The security notice goes out only after Legal approved it; record "
            "their approval on the incident's security response first.",
            code="legal_approval_required",
        )


def _new_message(
    *,
    incident: Incident,
    actor,
    audience: str,
    channel: str,
    stage: str,
    subject: str,
    body: str,
    recipients: list[str],
    template_version: MessageTemplateVersion | None,
    party: ExternalParty | None,
    follow_up_number: int | None,
    situation: str,
    send_after: dt.datetime | None,
) -> Message:
    if not body.strip():
        raise _field_error("body", "The message is empty.", "empty_body")
    _check_security_notice(incident, situation, template_version)
    if audience != Audience.INTERNAL and channel != Channel.EMAIL:
        raise _field_error(
            "channel",
            "Customers, partners and vendors are written to by e-mail here; chat "
            "and notes reach the team only.",
            "external_channel",
        )
    if audience == Audience.INTERNAL and channel == Channel.EMAIL:
        _check_staff_addresses(recipients)
    if follow_up_number is not None and not 1 <= follow_up_number <= 99:
        raise _field_error(
            "follow_up_number", "Follow-up numbers run from 1 to 99.", "bad_number"
        )
    if channel == Channel.EMAIL and not subject.strip():
        raise _field_error("subject", "An e-mail needs a subject.", "no_subject")
    if audience in (Audience.PARTNER, Audience.VENDOR):
        if party is None:
            raise _field_error(
                "party", f"Pick the {audience} this goes to.", "party_required"
            )
        if party.kind != audience:
            raise _field_error(
                "party",
                f"{party.name} is a {party.get_kind_display().lower()}, not a "
                f"{audience}.",
                "party_kind",
            )
    recipients = _check_recipients(channel, recipients)
    if audience in (Audience.PARTNER, Audience.VENDOR) and channel == Channel.EMAIL:
        _check_party_addresses(party, recipients)
    return Message(
        incident=incident,
        template_version=template_version,
        audience=audience,
        channel=channel,
        stage=stage,
        situation=situation,
        follow_up_number=follow_up_number,
        party=party if audience in (Audience.PARTNER, Audience.VENDOR) else None,
        recipients=recipients,
        subject=" ".join(subject.split()),
        body=body,
        created_by=actor,
        send_after=send_after,
    )


@transaction.atomic
def save_draft(*, incident: Incident, actor, **fields) -> Message:
    """Keep a message as a draft on the incident, to finish later."""
    message = _new_message(incident=incident, actor=actor, **fields)
    message.status = Message.Status.DRAFT
    message.save()
    _event(message, TimelineEvent.Kind.MESSAGE_DRAFTED, actor)
    return message


@transaction.atomic
def send_message(*, incident: Incident, actor, **fields) -> Message:
    """Send a message now or at ``send_after``, or hold it as policy says.

    External messages follow the delivery rules: some wait for a manager's
    approval, some become a draft for the incident owner.
    """
    return send_message_in_open_transaction(incident=incident, actor=actor, **fields)


@transaction.atomic
def send_template(
    *,
    incident: Incident,
    version: MessageTemplateVersion,
    actor,
    audience: str,
    channel: str,
    stage: str,
    situation: str,
    recipients: list[str],
    party: ExternalParty | None = None,
    prefix: str = "",
    sender_name: str = "",
) -> Message:
    """Fill a library template for this incident and send it, as send_message.

    For the messages rules and escalations send without the composer; the
    context is the one the composer would fill (signed by ``sender_name``,
    or by the team when empty).
    """
    context = catalogue.incident_context(
        incident, audience=audience, party=party, sender_name=sender_name
    )
    rendered = preview_template(version=version, context=context)
    return send_message_in_open_transaction(
        incident=incident,
        actor=actor,
        audience=audience,
        channel=channel,
        stage=stage,
        situation=situation,
        follow_up_number=None,
        party=party,
        recipients=recipients,
        subject=rendered.subject,
        body=prefix + rendered.body,
        send_after=None,
        template_version=version,
    )


def send_message_in_open_transaction(*, incident: Incident, actor, **fields) -> Message:
    """``send_message`` without a savepoint of its own, for callers that batch.

    Every refusal (a ValidationError) comes before the first write, so the
    caller may catch it and go on. Any other error leaves the caller's
    transaction to be rolled back, as the follow-up sweep does.
    """
    message = _new_message(incident=incident, actor=actor, **fields)
    return _dispatch(message, actor)


def _dispatch(message: Message, actor) -> Message:
    _check_resolution_facts(message)
    now = timezone.now()
    mode = selectors.delivery_mode(message.incident, audience=message.audience)
    # Approval always needs a second person, managers' own messages included.
    if mode == DeliveryRule.Mode.APPROVAL:
        message.status = Message.Status.AWAITING_APPROVAL
        message.save()
        _event(message, TimelineEvent.Kind.MESSAGE_SUBMITTED, actor)
        return message
    if mode == DeliveryRule.Mode.DRAFT and actor is None:
        message.status = Message.Status.DRAFT
        message.save()
        _event(message, TimelineEvent.Kind.MESSAGE_DRAFTED, actor)
        return message
    return _release(message, actor, now)


@transaction.atomic
def send_draft(*, message: Message, actor) -> Message:
    """Send a saved draft, under the same rules as a new message."""
    message = Message.objects.select_for_update().get(pk=message.pk)
    if message.status != Message.Status.DRAFT:
        raise ValidationError("Only drafts can be sent from here.", code="not_draft")
    return _dispatch(message, actor)


EDITABLE_STATUSES = (Message.Status.DRAFT, Message.Status.SCHEDULED)
MESSAGE_FIELDS = (
    "audience",
    "channel",
    "stage",
    "situation",
    "follow_up_number",
    "party",
    "recipients",
    "subject",
    "body",
    "send_after",
    "template_version",
)


def _locked_unsent(message: Message, *, verb: str) -> Message:
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("incident")
        .get(pk=message.pk)
    )
    if message.status not in EDITABLE_STATUSES:
        if message.status in selectors.LIVE_MESSAGE_STATUSES:
            raise ValidationError(
                f"This message already left (it is "
                f"{message.get_status_display().lower()}); it can no longer be "
                f"{verb}.",
                code="already_left",
            )
        raise ValidationError(
            f"Only drafts and scheduled messages can be {verb}; this one is "
            f"{message.get_status_display().lower()}.",
            code="not_editable",
        )
    return message


@transaction.atomic
def revise_message(*, message: Message, actor, send: bool, **fields) -> Message:
    """Change a draft or a scheduled message before it leaves.

    The edited message is checked like a new one; sending it again follows
    the delivery rules (an approval may be needed), otherwise it stays a
    draft.
    """
    message = _locked_unsent(message, verb="edited")
    checked = _new_message(incident=message.incident, actor=actor, **fields)
    changed = [
        name
        for name in MESSAGE_FIELDS
        if getattr(checked, name) != getattr(message, name)
    ]
    for name in MESSAGE_FIELDS:
        setattr(message, name, getattr(checked, name))
    message.status = Message.Status.DRAFT
    message.save()
    _event(message, TimelineEvent.Kind.MESSAGE_EDITED, actor, fields=changed)
    return _dispatch(message, actor) if send else message


@transaction.atomic
def cancel_message(*, message: Message, actor) -> Message:
    """Withdraw a draft or a scheduled message so that it never leaves."""
    message = _locked_unsent(message, verb="cancelled")
    message.status = Message.Status.CANCELLED
    message.save(update_fields=["status"])
    _event(message, TimelineEvent.Kind.MESSAGE_CANCELLED, actor)
    return message


@transaction.atomic
def rework_message(*, message: Message, actor) -> Message:
    """Start a new draft from a rejected message, keeping the rejected one."""
    message = Message.objects.select_related("incident").get(pk=message.pk)
    if message.status != Message.Status.REJECTED:
        raise ValidationError(
            "Only rejected messages can be reworked.", code="not_rejected"
        )
    draft = Message(
        incident=message.incident,
        **{name: getattr(message, name) for name in MESSAGE_FIELDS},
        created_by=actor,
        status=Message.Status.DRAFT,
    )
    draft.send_after = None
    draft.save()
    _event(draft, TimelineEvent.Kind.MESSAGE_DRAFTED, actor, reworks=message.pk)
    return draft


@transaction.atomic
def approve_message(
    *,
    message: Message,
    actor,
    subject: str | None = None,
    body: str | None = None,
) -> Message:
    """Let an external message go, optionally after editing it."""
    if not actor.has_perm("comms.approve_message"):
        raise PermissionDenied("Only managers approve external messages.")
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("incident")
        .get(pk=message.pk)
    )
    if message.status != Message.Status.AWAITING_APPROVAL:
        raise ValidationError(
            "This message is not waiting for approval.", code="not_awaiting"
        )
    if message.created_by_id == actor.pk:
        raise ValidationError(
            "You wrote this message; another manager must approve it.",
            code="self_approval",
        )
    edited = {}
    if subject is not None:
        subject = " ".join(subject.split())
        if message.channel == Channel.EMAIL and not subject:
            raise _field_error("subject", "An e-mail needs a subject.", "no_subject")
        if subject != message.subject:
            edited["subject"] = [message.subject, subject]
            message.subject = subject
    if body is not None:
        body = body.replace("\r\n", "\n")
        if not body.strip():
            raise _field_error("body", "The message is empty.", "empty_body")
        if body.strip() != message.body.strip():
            edited["body"] = ["(original)", "(edited by the approver)"]
            message.body = body
    now = timezone.now()
    message.decided_by, message.decided_at = actor, now
    message.save()
    _event(message, TimelineEvent.Kind.MESSAGE_APPROVED, actor, changes=edited)
    return _release(message, actor, now)


@transaction.atomic
def reject_message(*, message: Message, actor, reason: str) -> Message:
    """Stop an external message, saying why, so its author can rework it."""
    if not actor.has_perm("comms.approve_message"):
        raise PermissionDenied("Only managers reject external messages.")
    if not reason.strip():
        raise _field_error(
            "reason", "Say why, so the author can fix it.", "reason_required"
        )
    message = Message.objects.select_for_update(of=("self",)).get(pk=message.pk)
    if message.status != Message.Status.AWAITING_APPROVAL:
        raise ValidationError(
            "This message is not waiting for approval.", code="not_awaiting"
        )
    if message.created_by_id == actor.pk:
        raise ValidationError(
            "You wrote this message; another manager must decide on it.",
            code="self_approval",
        )
    message.status = Message.Status.REJECTED
    message.status_reason = reason.strip()
    message.decided_by, message.decided_at = actor, timezone.now()
    message.save()
    _event(message, TimelineEvent.Kind.MESSAGE_REJECTED, actor, reason=reason.strip())
    return message


@transaction.atomic
def retry_message(*, message: Message, actor) -> Message:
    """Queue a failed message again, from the incident page."""
    message = Message.objects.select_for_update(of=("self",)).get(pk=message.pk)
    if message.status != Message.Status.FAILED:
        raise ValidationError("Only failed messages can be retried.", code="not_failed")
    message.attempts = 0
    message.last_error = ""
    return _release(message, actor, timezone.now())


def _backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=settings.COMMS_RETRY_BASE_SECONDS * 2 ** (attempts - 1))


def deliver_message(*, message_id: int) -> Message | None:
    """Hand one queued message to its channel, exactly once.

    The claim is a conditional UPDATE: of two workers given the same
    message, one changes the row and sends; the other changes nothing and
    stops. A failure is retried later with a doubling delay, then marked
    failed and shown on the incident.
    """
    now = timezone.now()
    claimed = (
        Message.objects.filter(
            pk=message_id,
            status=Message.Status.QUEUED,
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(
            status=Message.Status.SENDING,
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return None
    message = Message.objects.select_related("incident", "party").get(pk=message_id)
    webhook = ""
    if message.channel == Channel.CHAT:
        route = selectors.chat_route_for(message.incident)
        webhook = route.webhook_url if route else ""

    def delivered(addresses: list[str]) -> None:
        # Saved at once: a retry after a later failure skips these.
        message.delivered_to = [*message.delivered_to, *addresses]
        Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
            delivered_to=message.delivered_to
        )

    try:
        channels.backend_for(message.channel).send(
            message, chat_webhook_url=webhook, on_delivered=delivered
        )
    except channels.DeliveryError as exc:
        return _record_failure(message, str(exc))
    return _record_success(message)


@transaction.atomic
def _record_success(message: Message) -> Message:
    now = timezone.now()
    # Only the claim still in force may settle the message: if the stale-claim
    # sweep already gave up on this attempt, a person now decides.
    if not Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
        status=Message.Status.SENT, sent_at=now, last_error="", next_attempt_at=None
    ):
        return message
    message.refresh_from_db()
    _event(
        message,
        TimelineEvent.Kind.MESSAGE_SENT,
        None,
        recipients=message.recipients,
        attempts=message.attempts,
    )
    incident = message.incident
    if message.audience == Audience.CUSTOMER and incident.first_response_at is None:
        # Someone may have recorded it by hand in the meantime.
        with contextlib.suppress(ValidationError):
            incident_services.record_first_response(
                incident=incident,
                actor=message.created_by,
                responded_at=now,
                channel=message.get_channel_display(),
            )
    return message


@transaction.atomic
def _record_failure(message: Message, error: str) -> Message:
    now = timezone.now()
    still_claimed = Message.objects.filter(pk=message.pk, status=Message.Status.SENDING)
    if message.attempts >= settings.COMMS_MAX_ATTEMPTS:
        if not still_claimed.update(
            status=Message.Status.FAILED, last_error=error, next_attempt_at=None
        ):
            return message
        message.refresh_from_db()
        _event(
            message,
            TimelineEvent.Kind.MESSAGE_FAILED,
            None,
            error=error,
            attempts=message.attempts,
        )
    else:
        still_claimed.update(
            status=Message.Status.QUEUED,
            last_error=error,
            next_attempt_at=now + _backoff(message.attempts),
        )
        message.refresh_from_db()
    return message


def due_work(now: dt.datetime) -> dict[str, int]:
    """Release scheduled messages, enqueue due retries, settle dead claims."""
    released = []
    for message_id in Message.objects.filter(
        status=Message.Status.SCHEDULED, send_after__lte=now
    ).values_list("pk", flat=True):
        with transaction.atomic():
            if Message.objects.filter(
                pk=message_id, status=Message.Status.SCHEDULED
            ).update(status=Message.Status.QUEUED, queued_at=now, next_attempt_at=now):
                released.append(message_id)
    # A message queued a moment ago has its task on the way already; one
    # that has waited longer than a task takes lost its task, and a retry
    # that falls due has none.
    lost_before = now - dt.timedelta(seconds=settings.COMMS_LOST_TASK_SECONDS)
    due = list(
        Message.objects.filter(status=Message.Status.QUEUED, next_attempt_at__lte=now)
        .filter(Q(attempts__gt=0) | Q(queued_at__lte=lost_before))
        .exclude(pk__in=released)
        .values_list("pk", flat=True)[:500]
    )
    _enqueue_deliveries([*released, *due])
    stale_before = now - dt.timedelta(seconds=settings.COMMS_STALE_CLAIM_SECONDS)
    stale = 0
    for message in Message.objects.filter(
        status=Message.Status.SENDING, claimed_at__lt=stale_before
    ).select_related("incident"):
        # The worker stopped mid-send: it may or may not have handed the
        # message over. Resending could duplicate it, so a person decides.
        with transaction.atomic():
            if Message.objects.filter(
                pk=message.pk, status=Message.Status.SENDING
            ).update(
                status=Message.Status.FAILED,
                last_error="The delivery worker stopped mid-send; the message "
                "may or may not have gone out. Check, then retry if needed.",
            ):
                message.refresh_from_db()
                _event(
                    message,
                    TimelineEvent.Kind.MESSAGE_FAILED,
                    None,
                    error=message.last_error,
                )
                stale += 1
    return {"released": len(released), "enqueued": len(due), "stale": stale}


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
    # Imported here: the loops module sends through this one.
    from .loops import note_reply

    note_reply(
        incident=incident,
        sender_kind=sender_kind,
        party=party,
        received_at=received_at,
        actor=actor,
    )
    return reply
