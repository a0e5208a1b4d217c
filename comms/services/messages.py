"""Messages as people work them: drafts, sends, schedules, approvals, rework."""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.timesince import timesince

from incidents.models import Incident, TimelineEvent
from portal.nav_counts import forget_nav_counts

from .. import catalogue, selectors
from ..models import (
    Audience,
    Channel,
    DeliveryRule,
    ExternalParty,
    Message,
    MessageTemplateVersion,
)
from .delivery import _event, _release, rendered_now, suppress, withdraw
from .outbound import (
    _check_party_addresses,
    _check_recipients,
    _check_resolution_facts,
    _check_staff_addresses,
    _field_error,
    check_security_hold,
    check_security_template,
    phrases_to_avoid,
    security_hold,
    stale_reason,
)
from .templates import preview_template


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
    renders_on_send: bool = False,
    status_page_post: bool = False,
) -> Message:
    if not body.strip():
        raise _field_error("body", "The message is empty.", "empty_body")
    check_security_template(incident, template_version)
    if (channel == Channel.STATUS_PAGE) != status_page_post:
        raise _field_error(
            "channel",
            "Status page posts are made from the incident's Status page card.",
            "status_page_elsewhere",
        )
    if status_page_post:
        if audience != Audience.CUSTOMER or not subject.strip() or not recipients:
            raise ValueError("A status page post is a titled post to its page.")
    elif audience != Audience.INTERNAL and channel != Channel.EMAIL:
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
        renders_on_send=renders_on_send and template_version is not None,
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
def send_message(
    *, incident: Incident, actor, override_reason: str = "", **fields
) -> Message:
    """Send a message now or at ``send_after``, or hold it as policy says.

    External messages follow the delivery rules: some wait for a manager's
    approval, some become a draft for the incident owner. A customer
    message during a security incident's wait for Legal needs a manager's
    ``override_reason``.
    """
    message = _new_message(incident=incident, actor=actor, **fields)
    return _dispatch(message, actor, override_reason=override_reason)


def _refuse_status_page_post(message: Message) -> None:
    """A status page post carries its page's update: it is written, and
    written again, on the incident's Status page tab only."""
    if message.channel == Channel.STATUS_PAGE:
        raise ValidationError(
            "A status page post is written again on the incident's Status page "
            "tab, where its components and order are checked.",
            code="status_page_elsewhere",
        )


def send_status_page_post(
    *, incident: Incident, actor, page_slug: str, title: str, body: str, stage: str
) -> Message:
    """Post to a public status page as a customer message to many customers.

    The delivery rules are judged as for a systemic incident (the public
    reads it), and the security hold admits no override: nothing is
    published about a security incident until Legal approves.
    """
    message = _new_message(
        incident=incident,
        actor=actor,
        audience=Audience.CUSTOMER,
        channel=Channel.STATUS_PAGE,
        stage=stage,
        subject=title,
        body=body,
        recipients=[page_slug],
        template_version=None,
        party=None,
        follow_up_number=None,
        situation="",
        send_after=None,
        status_page_post=True,
    )
    return _dispatch(message, actor)


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
    escalation: dict[str, str] | None = None,
) -> Message:
    """Fill a library template for this incident and send it, as send_message.

    For the messages rules and escalations send without the composer; the
    context is the one the composer would fill (signed by ``sender_name``,
    or by the team when empty), plus the ``escalation`` it tells of.
    """
    context = catalogue.incident_context(
        incident,
        audience=audience,
        party=party,
        sender_name=sender_name,
        escalation=escalation,
    )
    rendered = preview_template(version=version, context=context)
    by_the_portal = actor is None and not prefix and not sender_name
    send_after = None
    if by_the_portal and audience == Audience.CUSTOMER:
        # Shown on the incident for the hold, where people can edit, hold or
        # send it; notices that fall due together leave as one.
        hold = incident.policy.notice_hold_minutes
        send_after = timezone.now() + dt.timedelta(minutes=hold) if hold else None
    message = send_message_in_open_transaction(
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
        send_after=send_after,
        template_version=version,
        # Rendering again as it leaves knows the incident, not the escalation.
        renders_on_send=by_the_portal and not escalation,
    )
    if by_the_portal:
        _replace_older_portal_notices(message)
    return message


def _replace_older_portal_notices(message: Message) -> None:
    """Withdraw the portal's own notices of the same kind still waiting to
    leave: the new one says it now, and several at once reach the reader
    as one."""
    if message.status not in (
        Message.Status.SCHEDULED,
        Message.Status.AWAITING_APPROVAL,
        Message.Status.QUEUED,
    ):
        return
    older = Message.objects.select_for_update().filter(
        incident=message.incident,
        audience=message.audience,
        party=message.party,
        stage=message.stage,
        created_by__isnull=True,
        pk__lt=message.pk,
        status__in=[Message.Status.SCHEDULED, Message.Status.AWAITING_APPROVAL],
    )
    for earlier in older:
        withdraw(
            earlier,
            f"A newer {message.get_stage_display().lower()} message to the same "
            f"reader replaces it (message {message.pk}).",
        )


def send_message_in_open_transaction(*, incident: Incident, actor, **fields) -> Message:
    """``send_message`` without a savepoint of its own, for callers that batch.

    Every refusal (a ValidationError) comes before the first write, so the
    caller may catch it and go on. Any other error leaves the caller's
    transaction to be rolled back, as the follow-up sweep does.
    """
    message = _new_message(incident=incident, actor=actor, **fields)
    return _dispatch(message, actor)


def _dispatch(message: Message, actor, *, override_reason: str = "") -> Message:
    if actor is None and message.audience == Audience.CUSTOMER:
        hold = security_hold(message.incident)
        if hold:
            # The portal never overrides; the reason shows on the incident.
            return suppress(message, hold, actor)
    else:
        message.override_reason = check_security_hold(
            message, actor=actor, override_reason=override_reason
        )
    _check_resolution_facts(message)
    now = timezone.now()
    mode = selectors.delivery_mode(
        message.incident,
        audience=message.audience,
        to_many=message.channel == Channel.STATUS_PAGE,
    )
    # Approval always needs a second person, managers' own messages included.
    if mode == DeliveryRule.Mode.APPROVAL:
        forget_nav_counts()
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
def send_draft(*, message: Message, actor, override_reason: str = "") -> Message:
    """Send a saved draft, under the same rules as a new message."""
    message = Message.objects.select_for_update().get(pk=message.pk)
    _refuse_status_page_post(message)
    if message.status != Message.Status.DRAFT:
        raise ValidationError("Only drafts can be sent from here.", code="not_draft")
    said = phrases_to_avoid(
        message.incident,
        audience=message.audience,
        subject=message.subject,
        body=message.body,
    )
    if said:
        # The composer asks once and lets the sender mean it; a button on the
        # Messages tab cannot ask, so it sends them there.
        raise ValidationError(
            "This draft says "
            + ", ".join(f"“{phrase}”" for phrase in said)
            + ", which our policy asks us never to tell a customer. Open it "
            "in the composer to reword it, or to send it as written.",
            code="never_say",
        )
    return _dispatch(message, actor, override_reason=override_reason)


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
def revise_message(
    *, message: Message, actor, send: bool, override_reason: str = "", **fields
) -> Message:
    """Change a draft or a scheduled message before it leaves.

    The edited message is checked like a new one; sending it again follows
    the delivery rules (an approval may be needed), otherwise it stays a
    draft.
    """
    message = _locked_unsent(message, verb="edited")
    _refuse_status_page_post(message)
    checked = _new_message(incident=message.incident, actor=actor, **fields)
    changed = [
        name
        for name in MESSAGE_FIELDS
        if getattr(checked, name) != getattr(message, name)
    ]
    for name in MESSAGE_FIELDS:
        setattr(message, name, getattr(checked, name))
    # A person's hand is on it now: it leaves as they wrote it.
    message.renders_on_send = False
    message.status = Message.Status.DRAFT
    message.save()
    _event(message, TimelineEvent.Kind.MESSAGE_EDITED, actor, fields=changed)
    return (
        _dispatch(message, actor, override_reason=override_reason) if send else message
    )


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
    _refuse_status_page_post(message)
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
    override_reason: str = "",
) -> Message:
    """Let an external message go, optionally after editing it.

    It is judged afresh: a portal-written text is rendered again from the
    incident, and one whose reason has gone (the incident resolved, a newer
    message replacing it) is withdrawn instead, saying why.
    """
    forget_nav_counts()
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
    stale = stale_reason(message)
    if stale:
        return withdraw(message, stale, actor)
    message.override_reason = check_security_hold(
        message, actor=actor, override_reason=override_reason or message.override_reason
    )
    # Edits are told from the text the manager was shown (the stored one).
    edited = {}
    if subject is not None:
        subject = " ".join(subject.split())
        if message.channel == Channel.EMAIL and not subject:
            raise _field_error("subject", "An e-mail needs a subject.", "no_subject")
        if message.channel == Channel.STATUS_PAGE and not 0 < len(subject) <= 200:
            raise _field_error(
                "subject",
                "The public title is one line of at most 200 characters.",
                "bad_public_title",
            )
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
    if edited:
        message.renders_on_send = False
    else:
        fresh = rendered_now(message)
        if fresh is not None:
            # Approved as the portal would write it now, not hours ago.
            message.subject, message.body = fresh
    now = timezone.now()
    message.decided_by, message.decided_at = actor, now
    message.save()
    _event(message, TimelineEvent.Kind.MESSAGE_APPROVED, actor, changes=edited)
    return _release(message, actor, now)


@transaction.atomic
def reject_message(*, message: Message, actor, reason: str) -> Message:
    """Stop an external message, saying why, so its author can rework it."""
    forget_nav_counts()
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


# A failed message older than this is sent again only once someone has
# read how old it is and where the incident stands now.
RETRY_CONFIRM_AFTER = dt.timedelta(hours=1)


def retry_warning(message: Message, now: dt.datetime) -> str:
    """Return what a person should know before sending a failed message again."""
    incident = message.incident
    reasons = []
    age = now - message.created_at
    if age > RETRY_CONFIRM_AFTER:
        reasons.append(f"it was written {timesince(message.created_at, now)} ago")
    if message.in_doubt_to:
        reasons.append(
            f"{len(message.in_doubt_to)} reader(s) may have it already "
            f"({', '.join(message.in_doubt_to[:5])}"
            f"{', …' if len(message.in_doubt_to) > 5 else ''}) and get it again"
        )
    stale = stale_reason(message)
    if stale:
        reasons.append(stale[0].lower() + stale[1:].rstrip("."))
    elif incident.status != Incident.Status.NEW and reasons:
        reasons.append(
            f"{incident.reference} is {incident.get_status_display().lower()} now"
        )
    if not reasons:
        return ""
    return "Read it again before sending: " + "; ".join(reasons) + ". Send it anyway?"


@transaction.atomic
def retry_message(*, message: Message, actor, confirmed: bool = False) -> Message:
    """Queue a failed message again, from the incident page.

    An old message, or one the incident has overtaken, goes again only once
    the person confirmed after reading why it may no longer fit.
    """
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("incident__policy", "template_version", "party")
        .get(pk=message.pk)
    )
    if message.status != Message.Status.FAILED:
        raise ValidationError("Only failed messages can be retried.", code="not_failed")
    now = timezone.now()
    warning = retry_warning(message, now)
    if warning and not confirmed:
        raise ValidationError(warning, code="confirm_retry")
    message.override_reason = check_security_hold(
        message, actor=actor, override_reason=message.override_reason
    )
    fresh = rendered_now(message)
    if fresh is not None:
        message.subject, message.body = fresh
    message.attempts = 0
    message.last_error = ""
    # The person checked: those in doubt get it now, with the rest.
    message.in_doubt_to, message.handing_over_to = [], []
    if warning:
        # The person read the warning and sent it as it stands.
        message.renders_on_send = False
    return _release(message, actor, now)


@transaction.atomic
def hold_message(*, message: Message, actor) -> Message:
    """Keep a message the portal scheduled from leaving: it becomes a draft."""
    message = _locked_scheduled(message)
    message.status = Message.Status.DRAFT
    message.send_after = None
    message.save()
    _event(message, TimelineEvent.Kind.MESSAGE_EDITED, actor, fields=["held"])
    return message


@transaction.atomic
def send_message_now(*, message: Message, actor) -> Message:
    """Let a scheduled message leave now instead of at its time."""
    message = _locked_scheduled(message)
    message.send_after = None
    return _release(message, actor, timezone.now())


def _locked_scheduled(message: Message) -> Message:
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("incident__policy")
        .get(pk=message.pk)
    )
    if message.status != Message.Status.SCHEDULED:
        raise ValidationError(
            f"This message is {message.get_status_display().lower()}, not "
            "scheduled; it can no longer be held or sent early.",
            code="not_scheduled",
        )
    return message
