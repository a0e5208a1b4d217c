"""Replies by e-mail: the inbound webhook and the unmatched-mail triage."""

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from incidents.models import Incident
from incidents.pagination import CappedCountPaginator
from portal.actions import post_action
from portal.json_api import json_error, read_json

from .. import mail_threads, selectors, services
from ..forms import (
    AttachMailForm,
    DismissMailForm,
)
from ..models import (
    InboundMail,
    Reply,
)


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
    # In a header only: a query string lands in proxy and access logs.
    given = request.headers.get("X-Switchboard-Secret", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return JsonResponse({"error": "Wrong or missing shared secret."}, status=403)
    payload, refused = read_json(request)
    if refused:
        return refused
    try:
        parsed = mail_threads.parse_provider_json(payload)
    except mail_threads.UnreadablePayload as exc:
        return json_error(str(exc), 400, fields=exc.fields)
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


@require_POST
@permission_required("comms.triage_inbound_mail", raise_exception=True)
def inbound_mail_attach(request, mail_pk):
    mail = get_object_or_404(InboundMail, pk=mail_pk)
    form = AttachMailForm(request.POST)

    def attach():
        incident = Incident.objects.filter(pk=form.cleaned_data["incident"]).first()
        if incident is None:
            raise ValidationError("No incident has that reference.")
        return services.attach_inbound_mail(
            mail=mail,
            actor=request.user,
            incident=incident,
            sender_kind=form.cleaned_data["sender_kind"],
            party=form.cleaned_data["party"],
        )

    return post_action(
        request,
        form=form,
        act=attach,
        success=lambda mail: f"Added to {mail.incident.reference} as a reply.",
        back=reverse("comms:inbound_mail"),
    )


@require_POST
@permission_required("comms.triage_inbound_mail", raise_exception=True)
def inbound_mail_dismiss(request, mail_pk):
    mail = get_object_or_404(InboundMail, pk=mail_pk)
    form = DismissMailForm(request.POST)
    return post_action(
        request,
        form=form,
        invalid="Say why the e-mail is set aside.",
        act=lambda: services.dismiss_inbound_mail(
            mail=mail, actor=request.user, note=form.cleaned_data["note"]
        ),
        success="Set aside.",
        back=reverse("comms:inbound_mail"),
    )


@require_POST
@permission_required("comms.add_reply", raise_exception=True)
def reply_confirm(request, reply_pk):
    reply = get_object_or_404(Reply, pk=reply_pk)
    return post_action(
        request,
        act=lambda: services.confirm_customer_reply(reply=reply, actor=request.user),
        success="Marked: the customer confirmed the fix.",
        back=reverse("comms:incident_messages", args=[reply.incident_id]),
    )
