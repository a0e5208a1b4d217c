"""The approvals queue: managers approve, edit or reject held messages."""

from django.contrib.auth.decorators import permission_required
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from incidents.selectors import (
    incident_clocks,
    overall_clock_state,
    security_awaiting_legal,
)
from incidents.sla import CLOCK_STATE_LABELS
from portal.actions import post_action

from .. import selectors, services
from ..forms import (
    ApprovalForm,
    RejectionForm,
)
from ..models import Message
from .messages import outcome_message


@require_GET
@permission_required("comms.approve_message", raise_exception=True)
def approval_queue(request):
    now = timezone.now()
    waiting = list(selectors.approval_queue()[:100])
    on_hold = security_awaiting_legal({m.incident_id for m in waiting})
    queue = [
        (
            m,
            ApprovalForm(
                initial={"subject": m.subject, "body": m.body}, prefix=str(m.pk)
            ),
            CLOCK_STATE_LABELS[overall_clock_state(incident_clocks(m.incident, now))],
        )
        for m in waiting
    ]
    return render(
        request,
        "comms/approval_queue.html",
        {
            "queue": queue,
            "on_hold": on_hold,
            "decided": selectors.recently_decided()[:20],
        },
    )


@require_POST
@permission_required("comms.approve_message", raise_exception=True)
def message_approve(request, message_pk):
    message = get_object_or_404(Message, pk=message_pk)
    form = ApprovalForm(request.POST, prefix=str(message_pk))
    return post_action(
        request,
        form=form,
        invalid="The message body cannot be empty.",
        act=lambda: services.approve_message(
            message=message,
            actor=request.user,
            subject=form.cleaned_data["subject"],
            body=form.cleaned_data["body"],
            override_reason=form.cleaned_data["override_reason"],
        ),
        success=lambda approved: f"Approved. {outcome_message(approved)}",
        back=reverse("comms:approvals"),
    )


@require_POST
@permission_required("comms.approve_message", raise_exception=True)
def message_reject(request, message_pk):
    message = get_object_or_404(Message, pk=message_pk)
    form = RejectionForm(request.POST)
    return post_action(
        request,
        form=form,
        invalid="Say why the message is rejected.",
        act=lambda: services.reject_message(
            message=message, actor=request.user, reason=form.cleaned_data["reason"]
        ),
        success="Rejected; the author will see your reason on the incident.",
        back=reverse("comms:approvals"),
    )
