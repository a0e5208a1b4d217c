"""An incident's escalations and credits: the lists, and asking for one
through the escalate and credit forms and their services."""

from django.core.exceptions import ValidationError
from ninja import Query, Router, Status

from comms.models import Message
from escalations import selectors as escalation_selectors
from escalations import services as escalation_services
from escalations.forms.credits import CreditRequestForm
from escalations.forms.routing import BUG_FIELDS, EscalateForm, path_field_name
from escalations.models import PATH_FIELDS, CreditPolicy, Path, Tier
from escalations.services.routing import NOTE_FIELDS
from incidents.models import Customer

from .. import shapes
from ..auth import write_token
from ..pagination import cursor_page
from ..permissions import require
from ..problems import refused
from ..schemas import (
    CreditIn,
    CreditOut,
    CreditPage,
    EscalationIn,
    EscalationOptions,
    EscalationOut,
    EscalationPage,
)
from .incidents import READ_ERRORS, WRITE_ERRORS, PageQuery, incident_or_404

router = Router(tags=["escalations and credits"])


# -- Escalations ------------------------------------------------------------------


@router.get(
    "/incidents/{reference}/escalations",
    response={200: EscalationPage, **READ_ERRORS},
)
def list_escalations(request, reference: str, params: Query[PageQuery]):
    """List the incident's escalations, newest first."""
    require(request, "escalations.view_escalation")
    incident = incident_or_404(reference)
    page, next_cursor = cursor_page(
        escalation_selectors.incident_escalations(incident),
        name=f"escalations.{incident.pk}",
        limit=params.limit,
        cursor=params.cursor,
    )
    return {
        "items": [shapes.escalation(e, reference=incident.reference) for e in page],
        "next_cursor": next_cursor,
    }


@router.get(
    "/incidents/{reference}/escalation-options",
    response={200: EscalationOptions, **READ_ERRORS},
)
def escalation_options(request, reference: str):
    """What an escalation of this incident may name: its policy's tiers, the
    checks to confirm, and each path's own fields."""
    require(request, "escalations.view_escalation")
    incident = incident_or_404(reference)
    tiers = Tier.objects.filter(policy_id=incident.policy_id, is_active=True)
    checks = escalation_selectors.pre_escalation_checks(incident.policy_id)
    return {
        "tiers": [shapes.tier(t) for t in tiers],
        "checks": [{"id": c.pk, "text": c.text} for c in checks],
        "paths": [
            {
                "path": path,
                "label": label,
                "fields": [
                    {
                        "name": spec.name,
                        "label": spec.label,
                        "required": spec.required,
                        "choices": list(spec.choices or ()),
                    }
                    for spec in PATH_FIELDS[path]
                ],
            }
            for path, label in Path.choices
        ],
    }


def _tier_ids(incident, tiers: list[int | str]) -> list:
    keys = [t for t in tiers if isinstance(t, str)]
    by_key = dict(
        Tier.objects.filter(policy_id=incident.policy_id, key__in=keys).values_list(
            "key", "pk"
        )
    )
    # An unknown key stays as it is, for the form to refuse by name.
    return [by_key.get(t, t) if isinstance(t, str) else t for t in tiers]


def _escalate_form(incident, payload: EscalationIn, checks) -> EscalateForm:
    data = {
        "path": payload.path,
        "tiers": [str(t) for t in _tier_ids(incident, payload.tiers)],
        "flags": payload.flags,
        "refund_amount": payload.refund_amount or "",
        "port_in_rejections": (
            "" if payload.port_in_rejections is None else payload.port_in_rejections
        ),
    }
    for name, value in payload.note.dict().items():
        data[name] = "" if value is None else value
    for name, value in payload.path_details.items():
        data[path_field_name(payload.path, name)] = value
    for pk, answer in payload.checks.items():
        if answer is True:
            data[f"check_{pk}"] = True
        elif isinstance(answer, str):
            data[f"why_not_{pk}"] = answer
    if payload.bug_report is not None:
        data["file_bug_report"] = True
        for name, value in payload.bug_report.items():
            data[f"bug_{name}"] = value
    return EscalateForm(data, incident=incident, checks=checks)


def _api_field(name: str, path: str) -> str:
    """Return where a form or service error's field sits in the API's body."""
    prefix = f"{path}__"
    if name.startswith(prefix):
        return f"path_details.{name[len(prefix) :]}"
    if name in {spec.name for spec in PATH_FIELDS.get(path, ())}:
        return f"path_details.{name}"
    if name in NOTE_FIELDS:
        return f"note.{name}"
    for form_prefix in ("check_", "why_not_"):
        if name.startswith(form_prefix):
            return f"checks.{name[len(form_prefix) :]}"
    if name.startswith("bug_"):
        return f"bug_report.{name[4:]}"
    if name == "file_bug_report":
        return "bug_report"
    return name


def _renamed(errors: dict, path: str) -> ValidationError:
    return ValidationError(
        {_api_field(name, path): list(found) for name, found in errors.items()}
    )


def _unknown_keys(payload: EscalationIn) -> dict[str, list[str]]:
    allowed = {spec.name for spec in PATH_FIELDS[payload.path]}
    unknown = {
        f"path_details.{name}": ["Not a field of this path."]
        for name in payload.path_details
        if name not in allowed
    }
    for name in payload.bug_report or {}:
        if name not in BUG_FIELDS:
            unknown[f"bug_report.{name}"] = ["Not a field of a bug report."]
    return unknown


@router.post(
    "/incidents/{reference}/escalations",
    auth=write_token,
    response={201: list[EscalationOut], **WRITE_ERRORS},
)
def request_escalation(request, reference: str, payload: EscalationIn):
    """Escalate, as the escalate form does: one escalation per tier, each
    ``requested`` (waiting for a manager) or already with its tier."""
    require(request, "escalations.request_escalation")
    incident = incident_or_404(reference)
    unknown = _unknown_keys(payload)
    if unknown:
        return refused(ValidationError(unknown))
    checks = list(escalation_selectors.pre_escalation_checks(incident.policy_id))
    form = _escalate_form(incident, payload, checks)
    if not form.is_valid():
        return refused(_renamed(form.errors.as_data(), payload.path))
    try:
        created = escalation_services.request_escalation(
            incident=incident, actor=request.user, **form.service_arguments()
        )
    except ValidationError as exc:
        if not hasattr(exc, "error_dict"):
            raise
        raise _renamed(exc.error_dict, payload.path) from None
    return Status(
        201, [shapes.escalation(e, reference=incident.reference) for e in created]
    )


# -- Credits ------------------------------------------------------------------------


@router.get("/incidents/{reference}/credits", response={200: CreditPage, **READ_ERRORS})
def list_credits(request, reference: str, params: Query[PageQuery]):
    """List the incident's credit and refund requests, newest first."""
    require(request, "escalations.view_creditrequest")
    incident = incident_or_404(reference)
    page, next_cursor = cursor_page(
        escalation_selectors.incident_credits(incident),
        name=f"credits.{incident.pk}",
        limit=params.limit,
        cursor=params.cursor,
    )
    return {
        "items": [shapes.credit(c, reference=incident.reference) for c in page],
        "next_cursor": next_cursor,
    }


def _credit_form(incident, payload: CreditIn) -> CreditRequestForm:
    """The credit page's form for this incident (see its _request_form)."""
    rules = CreditPolicy.objects.filter(policy_id=incident.policy_id).first()
    customer_ids = set(
        incident.affected_customers.values_list("customer_id", flat=True)
    )
    if incident.customer_id:
        customer_ids.add(incident.customer_id)
    customers = Customer.objects.filter(pk__in=customer_ids)
    customer = payload.customer or ""
    if customer:
        customer = (
            customers.filter(account_id=customer).values_list("pk", flat=True).first()
            or customer
        )
    currency = rules.currency if rules else "USD"
    return CreditRequestForm(
        {
            "kind": payload.kind,
            "amount": payload.amount,
            "currency": currency if payload.currency is None else payload.currency,
            "extension_days": payload.extension_days or "",
            "customer": customer,
            "reason": payload.reason,
            "evidence_messages": [str(pk) for pk in payload.evidence_messages],
            "evidence_note": payload.evidence_note,
        },
        incident=incident,
        customers=customers,
        messages=Message.objects.filter(incident=incident).order_by("-created_at"),
        currency=currency,
    )


@router.post(
    "/incidents/{reference}/credits",
    auth=write_token,
    response={201: CreditOut, **WRITE_ERRORS},
)
def request_credit(request, reference: str, payload: CreditIn):
    """Ask for a credit or refund; it waits for someone whose limit covers it."""
    require(request, "escalations.view_creditrequest", "escalations.request_credit")
    incident = incident_or_404(reference)
    form = _credit_form(incident, payload)
    if not form.is_valid():
        return refused(ValidationError(form.errors.as_data()))
    credit = escalation_services.request_credit(
        incident=incident, actor=request.user, **form.cleaned_data
    )
    return Status(201, shapes.credit(credit, reference=incident.reference))
