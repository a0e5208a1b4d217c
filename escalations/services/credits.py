"""Credits and refunds: ask, decide within authority, apply, cancel.

Every rule lives here, so the page, the admin and any later API all obey
it: the amount and currency are checked against the incident's policy, the
decider's roles must have a limit covering the amount, nobody decides their
own request, and two decisions at once leave exactly one standing.
"""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from comms import services as comms_services
from comms.catalogue import incident_context
from comms.models import Audience, Channel, Message, MessageTemplate, Situation, Stage
from incidents.models import AffectedCustomer, Customer, Incident, TimelineEvent
from incidents.services import record_timeline_event
from portal.forms import NotAnAmount, parse_amount
from portal.nav_counts import forget_nav_counts

from .. import selectors
from ..models import (
    ApprovalLimit,
    CreditPolicy,
    CreditRequest,
    CreditStatus,
)
from ..models.credits import CENT

CREDIT_TEMPLATE_KEY = "customer-credit-approved"
CANCELLED_TEMPLATE_KEY = "customer-credit-cancelled"
REASON_MAX_LENGTH = 2_000
# CreditRequest.amount holds 12 digits, two of them cents.
LARGEST_STORABLE = Decimal("10000000000")
BILLING_REFERENCE_MAX_LENGTH = 100
# How the customer's message names each kind ("We have approved ...").
KIND_PHRASES = {
    CreditRequest.Kind.SERVICE_CREDIT: "a service credit",
    CreditRequest.Kind.REFUND: "a refund",
    CreditRequest.Kind.PLAN_EXTENSION: "a plan extension",
    CreditRequest.Kind.WAIVED_CHARGE: "a waived charge",
    CreditRequest.Kind.OTHER: "a goodwill credit",
}


def _error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _details(credit: CreditRequest, **extra) -> dict:
    """Return the timeline details every credit event carries (shared contract)."""
    return {
        "credit": credit.pk,
        "kind": credit.kind,
        "amount": f"{credit.amount:.2f}",
        "currency": credit.currency,
        **extra,
    }


def _require(actor, codename: str, doing: str) -> None:
    if actor is None or not actor.has_perm(f"escalations.{codename}"):
        raise PermissionDenied(f"Your role may not {doing}.")


def _reason(text: str, *, field: str, required: bool, prompt: str) -> str:
    text = (text or "").strip()
    if required and not text:
        raise _error(field, prompt, "reason_required")
    if len(text) > REASON_MAX_LENGTH:
        raise _error(
            field, f"Keep it under {REASON_MAX_LENGTH:,} characters.", "too_long"
        )
    return text


def credit_rules_for(incident: Incident) -> CreditPolicy:
    """Return the incident policy's credit rules, or say an admin must add them."""
    rules = CreditPolicy.objects.filter(policy_id=incident.policy_id).first()
    if rules is None:
        raise ValidationError(
            f"The policy “{incident.policy}” has no credit rules yet; an admin "
            "must add them (currency and largest request) before credits can "
            "be asked for.",
            code="no_credit_rules",
        )
    return rules


def clean_amount(value) -> Decimal:
    """Return ``value`` as a positive amount of at most two decimals, or refuse."""
    if isinstance(value, float):
        # A float has already lost the cents it was typed with.
        value = str(value)
    try:
        amount = value if isinstance(value, Decimal) else parse_amount(str(value))
    except NotAnAmount as exc:
        raise _error("amount", exc.message, exc.code) from None
    except (InvalidOperation, ValueError, TypeError):
        raise _error(
            "amount", "Enter the amount as a number, e.g. 250.00.", "invalid"
        ) from None
    if not amount.is_finite():
        raise _error("amount", "Enter the amount as a number, e.g. 250.00.", "invalid")
    if amount <= 0:
        raise _error("amount", "The amount must be more than zero.", "not_positive")
    if amount >= LARGEST_STORABLE:
        raise _error(
            "amount",
            "That amount is far over any policy's largest request. Check it.",
            "over_cap",
        )
    if amount.as_tuple().exponent < -2 and amount != amount.quantize(CENT):
        raise _error(
            "amount",
            "Use at most two decimals (cents), e.g. 99.95.",
            "too_many_decimals",
        )
    return amount.quantize(CENT)


def _policy_amount(
    rules: CreditPolicy, amount: Decimal, currency: str
) -> Decimal | None:
    """Return the amount in the policy's currency; refuse unknown currencies
    and amounts over the cap. None: the currency has limits but no rate."""
    if currency == rules.currency:
        converted = amount
    else:
        rate = rules.rates.filter(currency=currency).first()
        if rate is not None:
            converted = (amount * rate.rate).quantize(CENT)
        else:
            limits = ApprovalLimit.objects.filter(
                policy_id=rules.policy_id, currency=currency
            ).values_list("max_amount", flat=True)
            limits = list(limits)
            if not limits:
                raise _error(
                    "currency",
                    f"{currency} is not a currency the policy “{rules.policy}” "
                    f"takes: it counts in {rules.currency} and names no rate "
                    f"or limit for {currency}. Ask in {rules.currency}, or ask "
                    "an admin to add a rate.",
                    "unknown_currency",
                )
            bounded = [limit for limit in limits if limit is not None]
            if None not in limits and amount > max(bounded):
                raise _error(
                    "amount",
                    f"{_money(amount, currency)} is more than anyone may grant "
                    f"in {currency} under this policy "
                    f"({_money(max(bounded), currency)}). Check the amount.",
                    "over_cap",
                )
            return None
    if converted > rules.cap:
        shown = _money(amount, currency)
        if currency != rules.currency:
            shown += f" (about {_money(converted, rules.currency)})"
        raise _error(
            "amount",
            f"{shown} is over the largest request this policy allows "
            f"({_money(rules.cap, rules.currency)}). Check the amount; a larger "
            "sum needs an admin to raise the cap first.",
            "over_cap",
        )
    return converted


def _customers_of(incident: Incident) -> set[int]:
    ids = set(
        AffectedCustomer.objects.filter(incident=incident).values_list(
            "customer_id", flat=True
        )
    )
    if incident.customer_id:
        ids.add(incident.customer_id)
    return ids


@transaction.atomic
def request_credit(
    *,
    incident: Incident,
    actor,
    kind: str,
    amount,
    currency: str,
    reason: str,
    customer: Customer | None = None,
    extension_days: int | None = None,
    evidence_messages=(),
    evidence_note: str = "",
) -> CreditRequest:
    """Ask for a credit or refund for the incident's customer, for a decision."""
    forget_nav_counts()
    _require(actor, "request_credit", "ask for credits")
    if kind not in CreditRequest.Kind.values:
        raise _error("kind", "Pick what kind of credit this is.", "invalid_kind")
    amount = clean_amount(amount)
    currency = (currency or "").strip().upper()
    if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise _error(
            "currency", "Use a three-letter currency code such as USD.", "invalid"
        )
    reason = _reason(
        reason,
        field="reason",
        required=True,
        prompt="Say why the customer should get this; the decider reads it.",
    )
    evidence_note = _reason(
        evidence_note, field="evidence_note", required=False, prompt=""
    )
    if kind == CreditRequest.Kind.PLAN_EXTENSION:
        if not extension_days or extension_days < 1 or extension_days > 3650:
            raise _error(
                "extension_days",
                "Say by how many days the plan is extended (1 to 3650).",
                "days_required",
            )
    elif extension_days:
        raise _error(
            "extension_days",
            "Only a plan extension runs for a number of days.",
            "days_not_extension",
        )
    else:
        extension_days = None
    incident = Incident.objects.select_related("policy").get(pk=incident.pk)
    if not incident.is_open:
        raise ValidationError(
            f"{incident.reference} is closed; reopen it to ask for a credit.",
            code="incident_closed",
        )
    customers = _customers_of(incident)
    if customer is None:
        if incident.customer_id is None:
            raise _error(
                "customer",
                "Pick which affected customer gets the credit.",
                "customer_required",
            )
        customer = incident.customer
    elif customer.pk not in customers:
        raise _error(
            "customer",
            f"{customer.name} is not a customer of {incident.reference}.",
            "not_affected",
        )
    rules = credit_rules_for(incident)
    policy_amount = _policy_amount(rules, amount, currency)
    evidence = list(evidence_messages)
    if any(message.incident_id != incident.pk for message in evidence):
        raise _error(
            "evidence_messages",
            "Evidence must be messages of this incident.",
            "foreign_evidence",
        )
    credit = CreditRequest(
        incident=incident,
        customer=customer,
        kind=kind,
        amount=amount,
        currency=currency,
        policy_amount=policy_amount,
        extension_days=extension_days,
        reason=reason,
        evidence_note=evidence_note,
        requested_by=actor,
        requested_at=timezone.now(),
    )
    credit.full_clean(exclude=["evidence_messages"])
    credit.save()
    credit.evidence_messages.set(evidence)
    record_timeline_event(
        incident=incident,
        kind=TimelineEvent.Kind.CREDIT_REQUESTED,
        actor=actor,
        details=_details(credit, reason=reason, customer=customer.pk),
    )
    return credit


def _locked(credit: CreditRequest) -> CreditRequest:
    return (
        CreditRequest.objects.select_for_update(of=("self",))
        # Not the deciders: a row locked after waiting is read anew on
        # PostgreSQL, but rows joined to it keep what they were before the
        # wait, so "who decided" would read as nobody.
        .select_related("incident__policy", "customer")
        .get(pk=credit.pk)
    )


def _already(credit: CreditRequest) -> str:
    """Say what became of a request, and who did it, in one sentence."""
    when = timezone.localtime(
        credit.cancelled_at or credit.applied_at or credit.decided_at
    )
    if credit.status == CreditStatus.CANCELLED:
        who = _person(credit.cancelled_by)
        return f"{who} cancelled this request at {when:%H:%M on %d %b}."
    who = _person(credit.decided_by)
    verb = "rejected" if credit.status == CreditStatus.REJECTED else "approved"
    if credit.status == CreditStatus.APPLIED:
        return (
            f"{who} approved this request and it was applied on {when:%d %b at %H:%M}."
        )
    return f"{who} already {verb} this request at {when:%H:%M on %d %b}."


def authority_refusal(credit: CreditRequest, actor) -> str | None:
    """Return why ``actor`` may not decide ``credit``, or None if they may."""
    if credit.requested_by_id == actor.pk:
        return "You asked for this credit; someone else must decide on it."
    if not actor.has_perm("escalations.decide_credit"):
        return "Your role may not decide on credits."
    covered = CreditRequest.objects.filter(
        selectors.decidable_by(actor), pk=credit.pk
    ).exists()
    if covered:
        return None
    return (
        f"{_money(credit.amount, credit.currency)} "
        f"({credit.get_kind_display().lower()}) is beyond your authority under "
        f"the policy “{credit.incident.policy}”; it waits for someone whose "
        "limit covers it."
    )


def _check_decidable(credit: CreditRequest, actor) -> None:
    if credit.status != CreditStatus.REQUESTED:
        raise ValidationError(_already(credit), code="already_decided")
    refusal = authority_refusal(credit, actor)
    if refusal is None:
        return
    code = "self_approval" if credit.requested_by_id == actor.pk else "authority"
    raise ValidationError(refusal, code=code)


def _tell_customer(
    credit: CreditRequest,
    actor,
    *,
    key: str = CREDIT_TEMPLATE_KEY,
    situation: str = Situation.CREDIT_APPROVED,
) -> tuple[Message | None, str]:
    """Send the credit message ``key`` from the library, under the composer's
    rules.

    Returns the message, or None with the reason nothing went out; a
    missing template or address must not undo the decision itself.
    """
    template = (
        MessageTemplate.objects.select_related("current_version")
        .filter(key=key, is_active=True, current_version__isnull=False)
        .first()
    )
    if template is None:
        return None, (
            f"No active “{key}” template in the library; tell the customer from "
            "the composer."
        )
    context = incident_context(
        credit.incident,
        audience=Audience.CUSTOMER,
        sender_name=_person(actor),
        # The credit's own customer, who may be one of several affected.
        recipient=credit.customer,
        credit={
            "kind": KIND_PHRASES[credit.kind],
            "amount": _money(credit.amount, credit.currency),
            "extension_days": credit.extension_days or "",
        },
    )
    try:
        with transaction.atomic():
            rendered = comms_services.preview_template(
                version=template.current_version, context=context
            )
            message = comms_services.send_message(
                incident=credit.incident,
                actor=actor,
                audience=Audience.CUSTOMER,
                channel=Channel.EMAIL,
                stage=Stage.POST_INCIDENT,
                situation=situation,
                follow_up_number=None,
                party=None,
                recipients=[credit.customer.email],
                subject=rendered.subject,
                body=rendered.body,
                send_after=None,
                template_version=template.current_version,
            )
    except (ValidationError, PermissionDenied) as exc:
        problems = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        return None, "The customer message could not be made: " + " ".join(problems)
    return message, ""


@transaction.atomic
def approve_credit(*, credit: CreditRequest, actor, reason: str = "") -> CreditRequest:
    """Approve a request within the actor's authority and tell the customer once."""
    forget_nav_counts()
    _require(actor, "decide_credit", "decide on credits")
    reason = _reason(reason, field="reason", required=False, prompt="")
    credit = _locked(credit)
    _check_decidable(credit, actor)
    credit.status = CreditStatus.APPROVED
    credit.decided_by, credit.decided_at = actor, timezone.now()
    credit.decision_reason = reason
    credit.save()
    extra = {"reason": reason} if reason else {}
    record_timeline_event(
        incident=credit.incident,
        kind=TimelineEvent.Kind.CREDIT_APPROVED,
        actor=actor,
        details=_details(credit, **extra),
    )
    if credit.customer_message_id is None:
        message, problem = _tell_customer(credit, actor)
        credit.customer_message = message
        credit.save(update_fields=["customer_message", "updated_at"])
        credit.customer_message_problem = problem
    return credit


@transaction.atomic
def reject_credit(*, credit: CreditRequest, actor, reason: str) -> CreditRequest:
    """Turn a request down, saying why, within the actor's authority."""
    forget_nav_counts()
    _require(actor, "decide_credit", "decide on credits")
    reason = _reason(
        reason,
        field="reason",
        required=True,
        prompt="Say why the credit is refused; the requester reads it.",
    )
    credit = _locked(credit)
    _check_decidable(credit, actor)
    credit.status = CreditStatus.REJECTED
    credit.decided_by, credit.decided_at = actor, timezone.now()
    credit.decision_reason = reason
    credit.save()
    record_timeline_event(
        incident=credit.incident,
        kind=TimelineEvent.Kind.CREDIT_REJECTED,
        actor=actor,
        details=_details(credit, reason=reason),
    )
    return credit


@transaction.atomic
def apply_credit(
    *, credit: CreditRequest, actor, billing_reference: str
) -> CreditRequest:
    """Record that billing has applied an approved credit, with its reference."""
    _require(actor, "apply_credit", "record credits as applied")
    billing_reference = " ".join((billing_reference or "").split())
    if not billing_reference:
        raise _error(
            "billing_reference",
            "Enter the billing system's reference for this credit.",
            "reference_required",
        )
    if len(billing_reference) > BILLING_REFERENCE_MAX_LENGTH:
        raise _error(
            "billing_reference",
            f"A reference has at most {BILLING_REFERENCE_MAX_LENGTH} characters.",
            "too_long",
        )
    credit = _locked(credit)
    if credit.status != CreditStatus.APPROVED:
        if credit.status == CreditStatus.REQUESTED:
            raise ValidationError(
                "This credit is not approved yet; it cannot be applied.",
                code="not_approved",
            )
        raise ValidationError(_already(credit), code="not_approved")
    if credit.requested_by_id == actor.pk:
        raise ValidationError(
            "You asked for this credit; someone else records it as applied, so "
            "money never moves on one person's word.",
            code="own_request",
        )
    credit.status = CreditStatus.APPLIED
    credit.billing_reference = billing_reference
    credit.applied_by, credit.applied_at = actor, timezone.now()
    credit.save()
    record_timeline_event(
        incident=credit.incident,
        kind=TimelineEvent.Kind.CREDIT_APPLIED,
        actor=actor,
        details=_details(credit, billing_reference=billing_reference),
    )
    return credit


@transaction.atomic
def cancel_credit(*, credit: CreditRequest, actor, reason: str) -> CreditRequest:
    """Withdraw a request not yet applied: its requester, or someone who may
    decide it; once approved, only such a decider, and the customer is told."""
    forget_nav_counts()
    _require(actor, "request_credit", "cancel credits")
    reason = _reason(
        reason,
        field="reason",
        required=True,
        prompt="Say why the credit is cancelled.",
    )
    credit = _locked(credit)
    if credit.status not in CreditRequest.OPEN_STATUSES:
        raise ValidationError(_already(credit), code="not_open")
    was_approved = credit.status == CreditStatus.APPROVED
    covered = (
        actor.has_perm("escalations.decide_credit")
        and CreditRequest.objects.filter(
            selectors.decidable_by(actor), pk=credit.pk
        ).exists()
    )
    if was_approved and (credit.requested_by_id == actor.pk or not covered):
        # The customer was told: taking it back is a decision, by a second
        # person whose authority covers the amount.
        raise ValidationError(
            "This credit is approved and the customer was told; only someone "
            "whose authority covers the amount, other than its requester, may "
            "cancel it.",
            code="not_allowed",
        )
    if credit.requested_by_id != actor.pk and not covered:
        raise ValidationError(
            "Only the requester, or someone whose authority covers this "
            "amount, may cancel it.",
            code="not_allowed",
        )
    credit.status = CreditStatus.CANCELLED
    credit.cancelled_by, credit.cancelled_at = actor, timezone.now()
    credit.cancel_reason = reason
    credit.save()
    record_timeline_event(
        incident=credit.incident,
        kind=TimelineEvent.Kind.CREDIT_CANCELLED,
        actor=actor,
        details=_details(credit, reason=reason),
    )
    if was_approved and credit.customer_message_id is not None:
        _tell_customer(
            credit,
            actor,
            key=CANCELLED_TEMPLATE_KEY,
            situation=Situation.CREDIT_CANCELLED,
        )
    return credit
