"""The rules every outgoing message passes: its recipients, the facts a
resolution message needs, and no repeats to the same customer."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.db.models.functions import Coalesce

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
    if message.situation == Situation.CREDIT_APPROVED:
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


def _dedup_kind(message: Message) -> str | None:
    """Return which allowance a customer message uses, if any.

    Proactive and follow-up messages get one each per 24 hours and root
    cause (carrier communication playbook, part 7); a closure notice goes
    once per closing.
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
    """Return a live message this one would repeat, if any.

    From the carrier communication playbook, part 7.

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


def _check_security_notice(
    incident: Incident, situation: str, version: MessageTemplateVersion | None
) -> None:
    """Refuse a security notice to customers until Legal approved it.

    From the fleet escalation playbook's security response.
    """
    is_notice = situation == Situation.SECURITY_NOTICE or (
        version is not None and version.template.situation == Situation.SECURITY_NOTICE
    )
    if is_notice and not incident_selectors.security_notice_cleared(incident):
        raise ValidationError(
            "The security notice goes out only after Legal approved it; record "
            "their approval on the incident's security response first.",
            code="legal_approval_required",
        )
