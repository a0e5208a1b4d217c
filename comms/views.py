import datetime as dt
import hmac
import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.models import Incident
from incidents.pagination import CappedCountPaginator
from incidents.selectors import incident_clocks, overall_clock_state
from incidents.sla import CLOCK_STATE_LABELS

from . import mail_threads, selectors, services
from .catalogue import reader_context
from .forms import (
    ApprovalForm,
    AttachMailForm,
    ComposeForm,
    DismissMailForm,
    RejectionForm,
    ReplyForm,
)
from .models import (
    Audience,
    Channel,
    ExternalParty,
    InboundMail,
    Message,
    MessageTemplate,
    MessageTemplateVersion,
    Reply,
    SignalReceipt,
    Situation,
    Stage,
)


def _incident(pk):
    return get_object_or_404(
        Incident.objects.select_related(
            "customer__success_manager", "category", "signal", "owner"
        ),
        pk=pk,
    )


@require_GET
def incident_messages(request, pk):
    incident = _incident(pk)
    return render(
        request,
        "comms/incident_messages.html",
        {
            "incident": incident,
            "suggestions": selectors.suggested_messages(incident),
            "messages_list": selectors.incident_messages(incident),
            "replies": incident.replies.select_related("party", "logged_by"),
            "reply_form": ReplyForm(),
            "loops": selectors.incident_loops(incident),
        },
    )


def _int_param(request, name: str) -> int | None:
    """Return a small positive integer from the query string, or None."""
    value = request.GET.get(name, "")
    if value.isascii() and value.isdecimal() and len(value) <= 9:
        return int(value)
    return None


def _choice_param(request, name: str, choices, default: str) -> str:
    value = request.GET.get(name, default)
    return value if value in dict(choices) else default


def _due_next(suggestions: list[dict]) -> dict | None:
    """Return the suggestion the composer opens with: the customer's first."""
    with_template = [s for s in suggestions if s["template"]]
    customer = [s for s in with_template if s["audience"] == Audience.CUSTOMER]
    return (customer or with_template or [None])[0]


def _follow_up_for(template: MessageTemplate, next_numbers: dict) -> int | None:
    """Return the follow-up number a follow-up template would be sent as."""
    if template.stage != Stage.FOLLOW_UP:
        return None
    number = next_numbers.get(template.audience, 1)
    low = template.follow_up_from or 1
    high = template.follow_up_to
    if number < low or (high is not None and number > high):
        return low
    return number


def _template_choices(incident: Incident, suggestions: list[dict]) -> list[dict]:
    """Group every template that fits the incident by audience and stage."""
    sent = selectors.sent_counts(incident)
    next_numbers = {
        audience: sent.get((audience, Stage.FOLLOW_UP), 0) + 1
        for audience in Audience.values
    }
    due = {s["template"].pk for s in suggestions if s["template"]}
    missing = services.missing_resolution_facts(incident)
    groups: list[dict] = []
    for template in selectors.templates_for_incident(incident):
        audience = Audience(template.audience).label
        stage = Stage(template.stage).label
        if not groups or groups[-1]["audience"] != audience:
            groups.append({"audience": audience, "stages": []})
        stages = groups[-1]["stages"]
        if not stages or stages[-1]["stage"] != stage:
            stages.append({"stage": stage, "templates": []})
        stages[-1]["templates"].append(
            {
                "template": template,
                "follow_up": _follow_up_for(template, next_numbers),
                "is_due": template.pk in due,
                "needs": missing
                if template.audience == Audience.CUSTOMER
                and template.stage in services.FACT_STAGES
                else [],
            }
        )
    return groups


def _prefill(request, incident: Incident, suggestions: list[dict]) -> dict:
    """Render the chosen template (else the one due next) into the composer."""
    template = None
    wanted = _int_param(request, "template")
    params_given = bool(request.GET)
    if wanted:
        template = (
            MessageTemplate.objects.select_related("current_version")
            .filter(pk=wanted, current_version__isnull=False)
            .first()
        )
    due = None if params_given else _due_next(suggestions)
    if due:
        template = due["template"]
    follow_up = _int_param(request, "follow_up")
    initial = {
        "audience": _choice_param(request, "audience", Audience.choices, "customer"),
        "channel": _choice_param(request, "channel", Channel.choices, "email"),
        "stage": _choice_param(request, "stage", Stage.choices, "creation"),
        "situation": _choice_param(request, "situation", Situation.choices, ""),
        "follow_up_number": follow_up if follow_up and follow_up <= 99 else None,
    }
    if due:
        initial.update(
            situation=due["situation"], follow_up_number=due["follow_up_number"]
        )
    if template:
        # The template decides who it is for, whatever the link said.
        initial.update(
            audience=template.audience, channel=template.channel, stage=template.stage
        )
        if template.situation:
            initial["situation"] = template.situation
    party = None
    if _int_param(request, "party"):
        party = ExternalParty.objects.filter(pk=_int_param(request, "party")).first()
    if party is None and initial["audience"] in ("partner", "vendor"):
        party = ExternalParty.objects.filter(
            kind=initial["audience"], is_active=True
        ).first()
    initial["party"] = party
    missing = (
        services.missing_resolution_facts(incident)
        if initial["audience"] == Audience.CUSTOMER
        and initial["stage"] in services.FACT_STAGES
        else []
    )
    if missing:
        messages.warning(
            request,
            "Before the customer can be told it is fixed, fill in on the incident "
            f"(Edit): {' and '.join(missing)}.",
        )
    elif template:
        context = reader_context(
            request,
            incident,
            audience=template.audience,
            follow_up_number=initial["follow_up_number"]
            or template.follow_up_from
            or 0,
            party=party,
        )
        try:
            rendered = services.preview_template(
                version=template.current_version, context=context
            )
        except ValidationError as exc:
            messages.error(
                request, f"The template could not be rendered: {exc.messages[0]}"
            )
        else:
            initial.update(
                subject=rendered.subject,
                body=rendered.body,
                template_version=template.current_version_id,
            )
    initial["recipients"] = selectors.default_recipients(
        incident,
        audience=initial["audience"],
        channel=initial["channel"],
        stage=initial["stage"],
        party=party,
    )
    return initial


def _tone(incident: Incident, *, stage: str) -> dict:
    """Return the policy's tone standard for this incident, to write by."""
    target = selectors.policy_target_for(incident)
    if target is None:
        return {}
    policy = target.policy
    return {
        "policy": policy.name,
        "severity": incident.get_priority_display(),
        "points": target.tone_guidance.splitlines(),
        "language": policy.language_standards.splitlines(),
        "post_incident": policy.post_incident_tone
        if stage == Stage.POST_INCIDENT
        else "",
    }


def _editing(request, incident: Incident) -> Message | None:
    """Return the draft or scheduled message being edited, if any."""
    message_pk = _int_param(request, "message") or (
        request.POST.get("message", "").isdecimal() and int(request.POST["message"][:9])
    )
    if not message_pk:
        return None
    return get_object_or_404(Message, pk=message_pk, incident=incident)


def _initial_from(message: Message) -> dict:
    return {
        "message": message.pk,
        "template_version": message.template_version_id,
        "audience": message.audience,
        "channel": message.channel,
        "stage": message.stage,
        "situation": message.situation,
        "follow_up_number": message.follow_up_number,
        "party": message.party,
        "recipients": message.recipients,
        "subject": message.subject,
        "body": message.body,
        "send_after": message.send_after,
    }


@require_http_methods(["GET", "POST"])
@permission_required("comms.send_message", raise_exception=True)
def compose(request, pk):
    incident = _incident(pk)
    editing = _editing(request, incident)
    suggestions = selectors.suggested_messages(incident)
    if request.method == "POST":
        form = ComposeForm(request.POST)
        if form.is_valid():
            fields = form.message_fields()
            version_id = form.cleaned_data.get("template_version")
            fields["template_version"] = (
                MessageTemplateVersion.objects.filter(pk=version_id).first()
                if version_id
                else None
            )
            is_draft = request.POST.get("action") == "Save draft"
            try:
                if editing:
                    message = services.revise_message(
                        message=editing, actor=request.user, send=not is_draft, **fields
                    )
                else:
                    action = services.save_draft if is_draft else services.send_message
                    message = action(incident=incident, actor=request.user, **fields)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _outcome(message))
                return redirect("comms:incident_messages", pk=incident.pk)
    elif editing:
        form = ComposeForm(initial=_initial_from(editing))
    else:
        form = ComposeForm(initial=_prefill(request, incident, suggestions))
    recipients = form["recipients"].value() or []
    if isinstance(recipients, str):
        try:
            recipients = form.fields["recipients"].to_python(recipients)
        except ValidationError:
            recipients = []  # the form shows why
    return render(
        request,
        "comms/compose.html",
        {
            "incident": incident,
            "form": form,
            "editing": editing,
            "template_groups": _template_choices(incident, suggestions),
            "tone": _tone(incident, stage=form["stage"].value()),
            "email_count": len(recipients)
            if form["audience"].value() == Audience.CUSTOMER
            and form["channel"].value() == Channel.EMAIL
            else None,
        },
    )


def _outcome(message: Message) -> str:
    return {
        Message.Status.DRAFT: "Saved as a draft.",
        Message.Status.AWAITING_APPROVAL: "Sent to a manager for approval.",
        Message.Status.SCHEDULED: "Scheduled.",
        Message.Status.QUEUED: "Queued for delivery.",
        Message.Status.SUPPRESSED: f"Not sent: {message.status_reason}",
        Message.Status.CANCELLED: "Cancelled.",
    }.get(message.status, f"Message {message.get_status_display().lower()}.")


def _message_action(request, message_pk, action, success):
    message = get_object_or_404(Message, pk=message_pk)
    try:
        message = action(message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success(message))
    return message


@require_POST
@permission_required("comms.send_message", raise_exception=True)
def message_retry(request, message_pk):
    message = _message_action(
        request,
        message_pk,
        lambda m: services.retry_message(message=m, actor=request.user),
        _outcome,
    )
    return redirect("comms:incident_messages", pk=message.incident_id)


@require_POST
@permission_required("comms.send_message", raise_exception=True)
def message_send_draft(request, message_pk):
    message = _message_action(
        request,
        message_pk,
        lambda m: services.send_draft(message=m, actor=request.user),
        _outcome,
    )
    return redirect("comms:incident_messages", pk=message.incident_id)


@require_POST
@permission_required("comms.send_message", raise_exception=True)
def message_cancel(request, message_pk):
    message = _message_action(
        request,
        message_pk,
        lambda m: services.cancel_message(message=m, actor=request.user),
        lambda m: "Cancelled; it will not be sent.",
    )
    return redirect("comms:incident_messages", pk=message.incident_id)


@require_POST
@permission_required("comms.send_message", raise_exception=True)
def message_rework(request, message_pk):
    message = get_object_or_404(Message, pk=message_pk)
    try:
        draft = services.rework_message(message=message, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("comms:incident_messages", pk=message.incident_id)
    messages.success(request, "A new draft was made from the rejected message.")
    url = reverse("comms:compose", args=[message.incident_id])
    return redirect(f"{url}?message={draft.pk}")


@require_POST
@permission_required("comms.add_reply", raise_exception=True)
def reply_log(request, pk):
    incident = _incident(pk)
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            services.log_reply(
                incident=incident, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Reply logged.")
            return redirect("comms:incident_messages", pk=incident.pk)
    return render(
        request,
        "comms/incident_messages.html",
        {
            "incident": incident,
            "suggestions": selectors.suggested_messages(incident),
            "messages_list": selectors.incident_messages(incident),
            "replies": incident.replies.select_related("party", "logged_by"),
            "reply_form": form,
            "loops": selectors.incident_loops(incident),
        },
        status=400,
    )


@require_GET
@permission_required("comms.approve_message", raise_exception=True)
def approval_queue(request):
    now = timezone.now()
    queue = [
        (
            m,
            ApprovalForm(
                initial={"subject": m.subject, "body": m.body}, prefix=str(m.pk)
            ),
            CLOCK_STATE_LABELS[overall_clock_state(incident_clocks(m.incident, now))],
        )
        for m in selectors.approval_queue()[:100]
    ]
    return render(
        request,
        "comms/approval_queue.html",
        {"queue": queue, "decided": selectors.recently_decided()[:20]},
    )


@require_POST
@permission_required("comms.approve_message", raise_exception=True)
def message_approve(request, message_pk):
    form = ApprovalForm(request.POST, prefix=str(message_pk))
    if not form.is_valid():
        messages.error(request, "The message body cannot be empty.")
        return redirect("comms:approvals")
    _message_action(
        request,
        message_pk,
        lambda m: services.approve_message(
            message=m,
            actor=request.user,
            subject=form.cleaned_data["subject"],
            body=form.cleaned_data["body"],
        ),
        lambda m: f"Approved. {_outcome(m)}",
    )
    return redirect("comms:approvals")


@require_POST
@permission_required("comms.approve_message", raise_exception=True)
def message_reject(request, message_pk):
    form = RejectionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the message is rejected.")
        return redirect("comms:approvals")
    _message_action(
        request,
        message_pk,
        lambda m: services.reject_message(
            message=m, actor=request.user, reason=form.cleaned_data["reason"]
        ),
        lambda m: "Rejected; the author will see your reason on the incident.",
    )
    return redirect(reverse("comms:approvals"))


# --- Automation (issue 14): replies by e-mail ---


@csrf_exempt
@login_not_required
@require_POST
def inbound_mail_webhook(request):
    """Take one e-mail as an inbound-mail provider posts it (JSON)."""
    secret = settings.INBOUND_MAIL_SECRET
    if not secret:
        return JsonResponse(
            {"error": "Inbound mail is not configured on this portal."}, status=503
        )
    given = request.headers.get("X-Switchboard-Secret") or request.GET.get("secret", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return JsonResponse({"error": "Wrong or missing shared secret."}, status=403)
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"error": "The body is not valid JSON."}, status=400)
    try:
        parsed = mail_threads.parse_provider_json(payload)
    except mail_threads.UnreadablePayload as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    mail = services.receive_email(parsed=parsed, source=InboundMail.Source.WEBHOOK)
    return JsonResponse(
        {
            "id": mail.pk,
            "status": mail.status,
            "incident": mail.incident.reference if mail.incident_id else None,
        }
    )


@require_GET
@permission_required("comms.view_inboundmail", raise_exception=True)
def inbound_mail_triage(request):
    page = CappedCountPaginator(selectors.unmatched_mail(), 25).get_page(
        request.GET.get("page")
    )
    attach_form = AttachMailForm()
    return render(
        request,
        "comms/inbound_mail_triage.html",
        {
            "page": page,
            # Listed once: the form is repeated on every card.
            "sender_choices": list(attach_form.fields["sender_kind"].choices),
            "party_choices": list(attach_form.fields["party"].choices),
        },
    )


def _triage_action(request, mail_pk, action, success):
    mail = get_object_or_404(InboundMail, pk=mail_pk)
    try:
        action(mail)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success)
    return redirect("comms:inbound_mail")


@require_POST
@permission_required("comms.triage_inbound_mail", raise_exception=True)
def inbound_mail_attach(request, mail_pk):
    form = AttachMailForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, " ".join(e for errors in form.errors.values() for e in errors)
        )
        return redirect("comms:inbound_mail")
    incident = Incident.objects.filter(pk=form.cleaned_data["incident"]).first()
    if incident is None:
        messages.error(request, "No incident has that reference.")
        return redirect("comms:inbound_mail")
    return _triage_action(
        request,
        mail_pk,
        lambda mail: services.attach_inbound_mail(
            mail=mail,
            actor=request.user,
            incident=incident,
            sender_kind=form.cleaned_data["sender_kind"],
            party=form.cleaned_data["party"],
        ),
        f"Added to {incident.reference} as a reply.",
    )


@require_POST
@permission_required("comms.triage_inbound_mail", raise_exception=True)
def inbound_mail_dismiss(request, mail_pk):
    form = DismissMailForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the e-mail is set aside.")
        return redirect("comms:inbound_mail")
    return _triage_action(
        request,
        mail_pk,
        lambda mail: services.dismiss_inbound_mail(
            mail=mail, actor=request.user, note=form.cleaned_data["note"]
        ),
        "Set aside.",
    )


@require_POST
@permission_required("comms.add_reply", raise_exception=True)
def reply_confirm(request, reply_pk):
    reply = get_object_or_404(Reply, pk=reply_pk)
    try:
        services.confirm_customer_reply(reply=reply, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Marked: the customer confirmed the fix.")
    return redirect("comms:incident_messages", reply.incident_id)


# --- Automation (issue 14): monitoring signals API ---

SIGNAL_FIELDS = {
    "signal": (str, True, 20),
    "dedup_key": (str, True, 200),
    "description": (str, True, 5000),
    "title": (str, False, 200),
    "category": (str, False, 60),
}
MAX_CUSTOMERS = 5000


def _json_error(message: str, status: int, **more) -> JsonResponse:
    return JsonResponse({"error": message, **more}, status=status)


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
        response = _json_error("Missing or unknown integration token.", 401)
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
    if not services.monitoring.take_rate_slot(
        integration=integration, now=timezone.now()
    ):
        response = _json_error(
            f"More than {integration.rate_limit_per_minute} signals this minute; "
            "retry in a minute.",
            429,
        )
        response["Retry-After"] = "60"
        return response
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _json_error("The body is not valid JSON.", 400)
    fields, errors = _signal_fields(payload)
    if errors:
        return _json_error("The signal is malformed.", 400, fields=errors)
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
        return _json_error(
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
        return _json_error("No signal of this integration has that receipt.", 404)
    return JsonResponse(_receipt_body(request, receipt))


# --- Automation (issue 14): the operations page ---

OPERATIONS_ROWS = 50


@require_GET
@permission_required("comms.view_operations", raise_exception=True)
def operations(request):
    """What the cluster will fire, what it missed, and whether it is alive."""
    now = timezone.now()
    upcoming = selectors.follow_ups_due_between(now, now + dt.timedelta(hours=24))
    overdue = selectors.overdue_follow_ups(now)
    heartbeat = selectors.last_sweep()
    schedules = selectors.sweep_schedules()
    stale_after = dt.timedelta(seconds=settings.SWEEP_STALE_SECONDS)
    warnings = []
    if heartbeat is None:
        warnings.append(
            "No sweep has ever run: start the cluster (manage.py qcluster)."
        )
    elif heartbeat.last_sweep_at < now - stale_after:
        warnings.append(
            f"The last sweep ran {timesince(heartbeat.last_sweep_at, now)} ago: the "
            "cluster looks dead. Follow-ups and deliveries wait until it runs."
        )
    if not schedules:
        warnings.append("No schedule runs the sweep; run manage.py migrate.")
    elif len(schedules) > 1:
        warnings.append(
            f"{len(schedules)} schedules run the sweep; delete all but one in the "
            "admin (slots still fire once, but the cluster does double work)."
        )
    return render(
        request,
        "comms/operations.html",
        {
            "now": now,
            "upcoming": upcoming[:OPERATIONS_ROWS],
            "upcoming_count": upcoming.order_by()[:1001].count(),
            "overdue": overdue[:OPERATIONS_ROWS],
            "overdue_count": overdue.order_by()[:1001].count(),
            "failed_deliveries": selectors.failed_deliveries()[:20],
            "failed_follow_ups": selectors.failed_follow_ups()[:20],
            "unmatched_mail": selectors.unmatched_mail_count(),
            "signals": selectors.signal_queue_counts(),
            "heartbeat": heartbeat,
            "schedules": schedules,
            "warnings": warnings,
        },
    )
