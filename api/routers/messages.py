"""An incident's messages: the list, and drafting or sending through the
composer's form and services (approval rules and all); approving one."""

from django.http import Http404
from ninja import Query, Router, Status

from comms import selectors as comms_selectors
from comms import services as comms_services
from comms.forms import ApprovalForm, ComposeForm
from comms.models import Message, MessageTemplateVersion
from comms.services import outbound

from .. import shapes
from ..auth import write_token
from ..pagination import cursor_page
from ..permissions import require
from ..problems import form_refused, problem
from ..schemas import ApprovalIn, MessageIn, MessageOut, MessagePage
from .incidents import READ_ERRORS, WRITE_ERRORS, PageQuery, incident_or_404

router = Router(tags=["messages"])


@router.get(
    "/incidents/{reference}/messages", response={200: MessagePage, **READ_ERRORS}
)
def list_messages(request, reference: str, params: Query[PageQuery]):
    """List the incident's messages, newest first, as its Messages tab does."""
    incident = incident_or_404(reference)
    page, next_cursor = cursor_page(
        comms_selectors.incident_messages(incident),
        name=f"messages.{incident.pk}",
        limit=params.limit,
        cursor=params.cursor,
    )
    return {
        "items": [shapes.message(m, reference=incident.reference) for m in page],
        "next_cursor": next_cursor,
    }


def _compose_form(incident, payload: MessageIn) -> ComposeForm:
    data = {
        "audience": payload.audience,
        "channel": payload.channel,
        "stage": payload.stage,
        "situation": payload.situation,
        "follow_up_number": payload.follow_up_number or "",
        "party": payload.party or "",
        "recipients": ", ".join(payload.recipients),
        "subject": payload.subject,
        "body": payload.body,
        "send_after": payload.send_after or "",
        "template_version": payload.template_version or "",
        "override_reason": payload.override_reason,
        "say_it_anyway": payload.say_it_anyway,
    }
    return ComposeForm(
        data,
        security_hold=bool(outbound.security_hold(incident)),
        asks_about_phrases=True,
    )


@router.post(
    "/incidents/{reference}/messages",
    auth=write_token,
    response={201: MessageOut, **WRITE_ERRORS},
)
def compose_message(request, reference: str, payload: MessageIn):
    """Save a draft (``draft: true``) or send, as the composer does.

    Sending follows the delivery rules: the answer's ``status`` says what
    happened (``queued``, ``scheduled``, ``awaiting_approval`` for a
    manager, ``draft`` for the owner, ``suppressed`` with the reason).
    """
    require(request, "comms.send_message")
    incident = incident_or_404(reference)
    form = _compose_form(incident, payload)
    if not form.is_valid():
        return form_refused(form)
    data = form.cleaned_data
    said = (
        []
        if payload.draft or data.get("say_it_anyway")
        else outbound.phrases_to_avoid(
            incident,
            audience=data["audience"],
            subject=data.get("subject") or "",
            body=data["body"],
        )
    )
    if said:
        return problem(
            422,
            "The message says words the policy asks never to tell a customer.",
            errors={
                "body": [
                    "This says "
                    + ", ".join(f"“{phrase}”" for phrase in said)
                    + "; reword it, or send say_it_anyway: true."
                ]
            },
            code="phrase_to_avoid",
        )
    fields = form.message_fields()
    version_id = data.get("template_version")
    fields["template_version"] = (
        MessageTemplateVersion.objects.filter(pk=version_id).first()
        if version_id
        else None
    )
    if payload.draft:
        message = comms_services.save_draft(
            incident=incident, actor=request.user, **fields
        )
    else:
        message = comms_services.send_message(
            incident=incident,
            actor=request.user,
            override_reason=data.get("override_reason") or "",
            **fields,
        )
    return Status(201, shapes.message(message, reference=incident.reference))


@router.post(
    "/messages/{message_id}/approve",
    auth=write_token,
    response={200: MessageOut, **WRITE_ERRORS},
)
def approve_message(request, message_id: int, payload: ApprovalIn):
    """Approve a message waiting for a manager (never one's own)."""
    require(request, "comms.approve_message")
    message = Message.objects.select_related("incident").filter(pk=message_id).first()
    if message is None:
        raise Http404("No such message.")
    form = ApprovalForm(
        {
            "subject": message.subject if payload.subject is None else payload.subject,
            "body": message.body if payload.body is None else payload.body,
            "override_reason": payload.override_reason,
        }
    )
    if not form.is_valid():
        return form_refused(form)
    approved = comms_services.approve_message(
        message=message,
        actor=request.user,
        subject=form.cleaned_data["subject"],
        body=form.cleaned_data["body"],
        override_reason=form.cleaned_data["override_reason"],
    )
    return shapes.message(approved, reference=message.incident.reference)
