"""The monitoring signal API: receive a signal, report on its receipt."""

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from portal.json_api import json_error, read_json

from .. import services
from ..models import (
    SignalReceipt,
)

SIGNAL_FIELDS = {
    "signal": (str, True, 20),
    "dedup_key": (str, True, 200),
    "description": (str, True, 5000),
    "title": (str, False, 200),
    "category": (str, False, 60),
}


MAX_CUSTOMERS = 5000


def _signal_fields(payload) -> tuple[dict, dict]:
    """Return the signal's fields and the errors of a malformed payload."""
    if not isinstance(payload, dict):
        return {}, {"body": "Post one JSON object."}
    fields, errors = {}, {}
    for name, (kind, required, limit) in SIGNAL_FIELDS.items():
        value = payload.get(name, "")
        if not isinstance(value, kind):
            errors[name] = "Must be text."
        elif required and not value.strip():
            errors[name] = "Required."
        elif len(value) > limit or "\x00" in value:
            errors[name] = f"At most {limit} characters, no NUL."
        else:
            fields[name] = value.strip()
    customers = payload.get("customers", [])
    if not isinstance(customers, list) or not all(
        isinstance(c, str) and 0 < len(c) <= 254 for c in customers
    ):
        errors["customers"] = "A list of account ids or e-mail addresses."
    elif len(customers) > MAX_CUSTOMERS:
        errors["customers"] = f"At most {MAX_CUSTOMERS} customers per signal."
    else:
        fields["customers"] = customers
    return fields, errors


def _integration_or_401(request):
    """Return the integration the request's bearer token names, or a 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    integration = (
        services.monitoring.integration_for_token(token.strip())
        if scheme.lower() in ("bearer", "token")
        else None
    )
    if integration is None:
        response = json_error("Missing or unknown integration token.", 401)
        response["WWW-Authenticate"] = "Bearer"
        return None, response
    return integration, None


def _receipt_body(request, receipt: SignalReceipt) -> dict:
    body = {
        "receipt": receipt.pk,
        "status": receipt.status,
        "status_url": request.build_absolute_uri(
            reverse("comms:signal_status", args=[receipt.pk])
        ),
        "dedup_key": receipt.dedup_key,
    }
    if receipt.status == SignalReceipt.Status.PROCESSED:
        incident = receipt.incident
        body |= {
            "incident": incident.reference,
            "url": request.build_absolute_uri(incident.get_absolute_url()),
            "opened": receipt.opened_incident,
            "systemic": incident.is_systemic,
            "priority": incident.priority,
            "unknown_customers": receipt.unknown_customers,
        }
    elif receipt.status == SignalReceipt.Status.FAILED:
        body["error"] = receipt.error
    return body


@csrf_exempt
@login_not_required
@require_POST
def signal_receive(request):
    """Take a monitoring signal and queue it: 202, with where to ask what it did.

    Authenticated by the integration's token (``Authorization: Bearer …``);
    every refusal is a 4xx with a JSON ``error``. The cluster opens a
    proactive incident or joins the open one within seconds; the status URL
    then names the incident.
    """
    integration, refused = _integration_or_401(request)
    if refused:
        return refused
    payload, refused = read_json(request)
    if refused:
        return refused
    fields, errors = _signal_fields(payload)
    if errors:
        return json_error("The signal is malformed.", 400, fields=errors)
    # A refused signal uses no slot: only what would be queued counts.
    if not services.monitoring.take_rate_slot(
        integration=integration, now=timezone.now()
    ):
        response = json_error(
            f"More than {integration.rate_limit_per_minute} signals this minute; "
            "retry in a minute.",
            429,
        )
        response["Retry-After"] = "60"
        return response
    try:
        receipt = services.monitoring.accept_signal(
            integration=integration,
            code=fields["signal"],
            dedup_key=fields["dedup_key"],
            description=fields["description"],
            customers=fields["customers"],
            title=fields.get("title", ""),
            category=fields.get("category", ""),
        )
    except ValidationError as exc:
        return json_error(
            " ".join(exc.messages), 422, code=getattr(exc, "code", None) or "invalid"
        )
    response = JsonResponse(_receipt_body(request, receipt), status=202)
    response["Location"] = reverse("comms:signal_status", args=[receipt.pk])
    return response


@login_not_required
@require_GET
def signal_status(request, receipt_pk):
    """What a signal the integration posted did: queued, its incident, or why not."""
    integration, refused = _integration_or_401(request)
    if refused:
        return refused
    receipt = (
        SignalReceipt.objects.select_related("incident")
        .filter(pk=receipt_pk, integration=integration)
        .first()
    )
    if receipt is None:
        return json_error("No signal of this integration has that receipt.", 404)
    return JsonResponse(_receipt_body(request, receipt))
