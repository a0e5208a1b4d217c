"""The rules every outgoing message passes: its recipients, the facts a
resolution message needs, and no repeats to the same customer."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.db.models.functions import Coalesce

from incidents import lifecycle
from incidents import selectors as incident_selectors
from incidents.models import Incident

from .. import selectors
from ..models import (
    Audience,
    Channel,
    ExternalParty,
    Message,
    MessageTemplateVersion,
    Situation,
    Stage,
)

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
    if message.situation in (Situation.CREDIT_APPROVED, Situation.CREDIT_CANCELLED):
        # A credit's notice tells of money granted, not of a fix.
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
# Messages that say the problem is over; a reopening makes them untrue.
OVER_STAGES = (Stage.RESOLUTION, *CLOSURE_STAGES)
# Where a message stands before it leaves: a reason to withdraw it may still
# come up. (Drafts are a person's work in progress and stay theirs.)
HELD_STATUSES = (
    Message.Status.AWAITING_APPROVAL,
    Message.Status.SCHEDULED,
    Message.Status.FAILED,
)


def _dedup_kind(message: Message) -> str | None:
    """Return which allowance a customer message uses, if any.

    Decided from the incident, not from what a form says the message is:
    the first customer message of an incident a signal found before the
    customer told us is proactive outreach (one per cause in the policy's
    window, across incidents); a closing notice goes once per closing.
    Follow-ups were promised, at the policy's cadence, and have no such
    allowance.
    """
    if message.audience != Audience.CUSTOMER or message.channel == Channel.STATUS_PAGE:
        # A public post is no outreach to a customer: it takes no allowance.
        return None
    if message.stage in CLOSURE_STAGES:
        return "closure"
    incident = message.incident
    if message.stage in OVER_STAGES or message.stage == Stage.POST_INCIDENT:
        return None
    found_first = bool(incident.signal_id) and not incident.customer_contact_count
    if found_first and not _customer_told(incident, exclude=message):
        return "proactive"
    return None


def _customer_told(incident: Incident, *, exclude: Message) -> bool:
    return (
        Message.objects.filter(
            incident=incident,
            audience=Audience.CUSTOMER,
            status__in=selectors.LIVE_MESSAGE_STATUSES,
        )
        .exclude(pk=exclude.pk)
        .exclude(channel=Channel.STATUS_PAGE)
        .exists()
    )


def _same_cause(incident: Incident) -> Q:
    policy = incident.policy
    same = Q(incident=incident)
    root_cause = incident.root_cause.strip()
    if root_cause:
        same |= Q(incident__root_cause__iexact=root_cause)
    if policy.proactive_same_cause == "root_cause_or_signal" and incident.signal_id:
        same |= Q(incident__signal_id=incident.signal_id)
    return same


def dedup_window(message: Message) -> dt.timedelta | None:
    """Return the span within which ``message`` would repeat another, if any."""
    kind = _dedup_kind(message)
    if kind == "proactive":
        hours = message.incident.policy.proactive_window_hours
        return dt.timedelta(hours=hours) if hours else None
    return dt.timedelta(0) if kind == "closure" else None


def _duplicate_of(message: Message, now: dt.datetime) -> Message | None:
    """Return a live message this one would repeat, if any.

    Proactive: the same customer address already heard of the same cause
    (the policy says what counts) unasked within the policy's window.
    Closure: one notice per closing, however long ago it closed.
    """
    kind = _dedup_kind(message)
    if kind is None:
        return None
    if kind == "closure":
        kind_q = Q(stage__in=CLOSURE_STAGES, incident=message.incident)
        closed_at = message.incident.closed_at
        since = min(now - DEDUP_WINDOW, closed_at) if closed_at else now - DEDUP_WINDOW
    else:
        window = dedup_window(message)
        if window is None:
            return None
        since = now - window
        # Any customer message of a found-first incident was outreach.
        kind_q = _same_cause(message.incident) & Q(incident__signal__isnull=False)
    candidates = (
        Message.objects.annotate(
            # When it left (or will leave), not when someone started writing
            # it: a draft or an approval can sit for a day.
            released_at=Coalesce("sent_at", "queued_at", "send_after", "created_at")
        )
        .filter(
            kind_q,
            audience=Audience.CUSTOMER,
            status__in=selectors.LIVE_MESSAGE_STATUSES,
            released_at__gte=since,
        )
        .exclude(pk=message.pk)
        .order_by("-created_at")
    )
    wanted = {r.lower() for r in message.recipients}
    return next(
        (m for m in candidates if {r.lower() for r in m.recipients} & wanted), None
    )


def suppression_reason(message: Message, duplicate: Message) -> str:
    """Say, for the Messages tab, why ``message`` was not sent."""
    if _dedup_kind(message) == "closure":
        return (
            f"The customer already got the closing notice for this closing "
            f"(message {duplicate.pk})."
        )
    hours = message.incident.policy.proactive_window_hours
    return (
        f"The customer already heard from us unasked about the same cause "
        f"within {hours} hours ({duplicate.incident.reference}, message "
        f"{duplicate.pk}); the policy allows one such alert in that time."
    )


def customer_contact_hold(incident: Incident) -> tuple[str, str]:
    """Return what stops every customer message now, and why: ("", "") when
    nothing does, else ("security", why) or ("escalation", why).

    While a security incident waits for Legal, the fleet escalation
    playbook says to tell customers nothing: not the notice, not an update;
    after a legal threat, it says not to engage the customer further, and
    after a press inquiry not to respond directly (an open escalation a rule
    with ``stops_customer_contact`` matched).
    """
    if incident_selectors.security_awaits_legal(incident):
        return (
            "security",
            f"{incident.reference} is a security incident and Legal has not yet "
            "approved telling customers; no customer message leaves until they do.",
        )
    stopping = (
        incident.escalations.filter(
            stops_customer_contact=True,
            status__in=("requested", "approved", "acknowledged"),
        )
        .select_related("to_tier")
        .only("id", "to_tier__name")
        .first()
    )
    if stopping is not None:
        return (
            "escalation",
            f"{incident.reference} is escalated to {stopping.to_tier.name} under "
            "a rule that stops customer contact: nobody else writes to the "
            "customer while that escalation is open.",
        )
    return "", ""


def security_hold(incident: Incident) -> str:
    """Return why no customer message may leave now, or an empty string."""
    return customer_contact_hold(incident)[1]


def check_security_hold(
    message: Message, *, actor: User | None, override_reason: str
) -> str:
    """Refuse a customer message during the security hold, unless overridden.

    Return the override reason to record (empty when there was no hold).
    Only a manager may override, and only with a reason.
    """
    if message.audience != Audience.CUSTOMER:
        return ""
    hold = security_hold(message.incident)
    if not hold:
        return ""
    if message.channel == Channel.STATUS_PAGE:
        raise ValidationError(
            hold + " The status page publishes nothing until then.",
            code="legal_approval_required",
        )
    override_reason = " ".join((override_reason or "").split())
    if actor is not None and override_reason:
        if not actor.has_perm("comms.approve_message"):
            raise ValidationError(
                hold + " Only a manager may send one anyway.",
                code="legal_approval_required",
            )
        return override_reason
    raise ValidationError(
        hold + " A manager may send it anyway, giving the reason.",
        code="legal_approval_required",
    )


def stale_reason(message: Message) -> str:
    """Return why a message not yet gone would now mislead, or ''.

    Read from the incident as it is now: an update about ongoing work
    after resolution, a "fixed" after a reopening, or a message that a
    newer one of the same kind to the same reader replaces.
    """
    incident = message.incident
    if message.situation.startswith("credit"):
        return ""
    if message.stage in OVER_STAGES:
        if not lifecycle.runs("resolution_messages", incident.status):
            return (
                f"{incident.reference} was reopened after it was written, so it "
                "would tell the reader the problem is over."
            )
    elif message.stage != Stage.POST_INCIDENT and not lifecycle.runs(
        "progress_messages", incident.status
    ):
        return (
            f"{incident.reference} is {incident.get_status_display().lower()} now; "
            "this update about the ongoing work no longer holds."
        )
    same_reader = Q()
    if message.channel == Channel.STATUS_PAGE:
        # The reader of a post is its page: a post to another page replaces
        # nothing here (posts keep their order per page when written).
        same_reader = Q(recipients=message.recipients)
    newer = (
        Message.objects.filter(
            same_reader,
            incident=incident,
            audience=message.audience,
            channel=message.channel,
            party=message.party,
            stage=message.stage,
            pk__gt=message.pk,
            status__in=[*HELD_STATUSES, *selectors.LIVE_MESSAGE_STATUSES],
        )
        .exclude(status=Message.Status.FAILED)
        .order_by("pk")
        .first()
    )
    if newer is not None:
        return (
            f"A newer {message.get_stage_display().lower()} message to the same "
            f"reader replaces it (message {newer.pk})."
        )
    return ""


def check_security_template(
    incident: Incident, version: MessageTemplateVersion | None
) -> None:
    """Refuse the customer security notice on an incident that is not one."""
    if (
        version is not None
        and version.template.situation == Situation.SECURITY_NOTICE
        and not incident_selectors.is_security_incident(incident)
    ):
        raise ValidationError(
            "The security notice is for security incidents only; flag this "
            "incident as one on its security page first.",
            code="not_a_security_incident",
        )


def _plain(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").lower().split())


def phrases_to_avoid(
    incident: Incident, *, audience: str, subject: str, body: str
) -> list[str]:
    """The phrases the incident's policy asks never to tell a customer that a
    customer message says, in its subject or text (curly or straight
    apostrophes, any case or spacing); none for any other audience."""
    if audience != Audience.CUSTOMER:
        return []
    target = selectors.policy_target_for(incident)
    policy = target.policy if target else incident.policy
    plain = _plain(f"{subject}\n{body}")
    return [phrase for phrase in policy.phrases_never_said if _plain(phrase) in plain]
