"""An incident's Messages tab and the actions on one message: retry, send,
cancel, rework, and logging a reply."""

from crispy_forms.utils import render_crispy_form
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from incidents.models import Incident
from portal.actions import post_action
from portal.jinja2 import render_body, render_incident_tabs

from .. import selectors, services
from ..forms import (
    PartyTicketForm,
    ReplyForm,
)
from ..models import (
    FollowUpLoop,
    Message,
)


def incident_or_404(pk):
    return get_object_or_404(
        Incident.objects.select_related(
            "customer__success_manager", "category", "signal", "owner"
        ),
        pk=pk,
    )


def _messages_tab_page(request, incident, *, reply_form, status=200):
    context = {
        "incident": incident,
        "tabs": render_incident_tabs(request, incident, "messages"),
        "suggestions": selectors.suggested_messages(incident),
        "messages_list": selectors.incident_messages(incident),
        "replies": incident.replies.select_related("party", "logged_by"),
        "reply_form": reply_form,
        "reply_form_html": render_crispy_form(reply_form, helper=reply_form.helper),
        "loops": selectors.incident_loops(incident),
    }
    context["body"] = render_body(
        request, "comms/incident_messages_body.jinja", context
    )
    return render(request, "comms/incident_messages.html", context, status=status)


@require_GET
def incident_messages(request, pk):
    return _messages_tab_page(request, incident_or_404(pk), reply_form=ReplyForm())


def int_param(request, name: str) -> int | None:
    """Return a small positive integer from the query string, or None."""
    value = request.GET.get(name, "")
    if value.isascii() and value.isdecimal() and len(value) <= 9:
        return int(value)
    return None


def choice_param(request, name: str, choices, default: str) -> str:
    value = request.GET.get(name, default)
    return value if value in dict(choices) else default


def outcome_message(message: Message) -> str:
    return {
        Message.Status.DRAFT: "Saved as a draft.",
        Message.Status.AWAITING_APPROVAL: "Sent to a manager for approval.",
        Message.Status.SCHEDULED: "Scheduled.",
        Message.Status.QUEUED: "Queued for delivery.",
        Message.Status.SUPPRESSED: f"Not sent: {message.status_reason}",
        Message.Status.CANCELLED: "Cancelled.",
        Message.Status.WITHDRAWN: f"Withdrawn: {message.status_reason}",
    }.get(message.status, f"Message {message.get_status_display().lower()}.")


def _message_or_404(message_pk: int) -> Message:
    return get_object_or_404(Message, pk=message_pk)


def _messages_tab(message: Message) -> str:
    return reverse("comms:incident_messages", args=[message.incident_id])


@require_POST
@permission_required("comms.send_message", raise_exception=True)
def message_retry(request, message_pk):
    """Send a failed message again; an old or overtaken one asks first."""
    message = _message_or_404(message_pk)
    try:
        message = services.retry_message(
            message=message,
            actor=request.user,
            confirmed=request.POST.get("confirmed") == "yes",
        )
    except ValidationError as exc:
        if getattr(exc, "code", "") == "confirm_retry":
            return render(
                request,
                "comms/confirm_retry.html",
                {
                    "incident": message.incident,
                    "message": message,
                    "warning": " ".join(exc.messages),
                },
            )
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, outcome_message(message))
    return redirect(_messages_tab(message))


def _message_action(service: str, success):
    """Return the view of a button on one message: call ``service`` on it,
    then back to its incident's Messages tab."""

    @require_POST
    @permission_required("comms.send_message", raise_exception=True)
    def view(request, message_pk):
        message = _message_or_404(message_pk)
        return post_action(
            request,
            act=lambda: getattr(services, service)(message=message, actor=request.user),
            success=success,
            back=_messages_tab(message),
        )

    view.__name__ = view.__qualname__ = f"message_{service}"
    return view


message_send_draft = _message_action("send_draft", outcome_message)
message_cancel = _message_action("cancel_message", "Cancelled; it will not be sent.")
message_hold = _message_action(
    "hold_message", "Held: it is a draft now, and leaves only when someone sends it."
)
message_send_now = _message_action("send_message_now", outcome_message)


@require_POST
@permission_required("comms.send_message", raise_exception=True)
def message_rework(request, message_pk):
    message = _message_or_404(message_pk)
    try:
        draft = services.rework_message(message=message, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(_messages_tab(message))
    messages.success(request, "A new draft was made from the rejected message.")
    url = reverse("comms:compose", args=[message.incident_id])
    return redirect(f"{url}?message={draft.pk}")


@require_POST
@permission_required("comms.add_reply", raise_exception=True)
def reply_log(request, pk):
    incident = incident_or_404(pk)
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
    return _messages_tab_page(request, incident, reply_form=form, status=400)


@require_POST
@permission_required("comms.send_message", raise_exception=True)
def loop_ticket(request, loop_pk):
    loop = get_object_or_404(FollowUpLoop.objects.select_related("party"), pk=loop_pk)
    form = PartyTicketForm(request.POST)
    back = reverse("comms:incident_messages", args=[loop.incident_id])
    return post_action(
        request,
        form=form,
        act=lambda: services.record_party_ticket(
            loop=loop, actor=request.user, ticket_id=form.cleaned_data["ticket_id"]
        ),
        success=lambda done: (
            f"{loop.party.name}'s ticket noted: {done.their_ticket_id}."
            if done.their_ticket_id
            else f"No ticket of {loop.party.name}'s is quoted any more."
        ),
        back=back,
    )
