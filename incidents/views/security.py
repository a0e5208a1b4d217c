"""Security incident response: phases, notifications, clocks, Legal's approval."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from portal.actions import post_action

from .. import selectors, services
from ..forms import (
    LegalApprovalForm,
    RegulatoryClocksForm,
    RegulatoryNoticeForm,
    SecurityFlagForm,
    SecurityNotifyForm,
    SecurityReportForm,
)
from ..models import (
    Incident,
    PostMortem,
    RegulatoryClock,
    RegulatoryRegime,
    SecurityChecklistItem,
    SecurityNotification,
    SecurityPhase,
    SecurityResponse,
)
from .lifecycle import incident_tabs


def _response_or_404(pk: int) -> SecurityResponse:
    return get_object_or_404(
        SecurityResponse.objects.select_related("incident"), incident_id=pk
    )


@require_GET
@permission_required("incidents.view_securityresponse", raise_exception=True)
def security_response(request, pk):
    return _security_page(request, pk)


def _security_page(request, pk, report_form=None, status=200):
    incident = get_object_or_404(Incident.objects.select_related("category"), pk=pk)
    now = timezone.now()
    context = {
        "incident": incident,
        "tabs": incident_tabs(request, incident, "postmortem"),
        "now": now,
    }
    try:
        page = selectors.security_page(incident_id=incident.pk, now=now)
    except SecurityResponse.DoesNotExist:
        context["flag_form"] = SecurityFlagForm()
    else:
        chosen = {clock.regime_id for clock, *_ in page.clocks}
        clocks_form = RegulatoryClocksForm()
        clocks_form.fields["regimes"].queryset = RegulatoryRegime.objects.filter(
            is_active=True
        ).exclude(pk__in=chosen)
        context.update(
            page=page,
            response=page.response,
            notify_form=SecurityNotifyForm(),
            clocks_form=clocks_form,
            notice_form=RegulatoryNoticeForm(),
            legal_form=LegalApprovalForm(),
            report_form=report_form
            or SecurityReportForm(initial=_report_initial(page.response)),
            has_postmortem=PostMortem.objects.filter(incident=incident).exists(),
        )
    return render(request, "incidents/security_response.html", context, status=status)


@require_POST
@permission_required("incidents.flag_security_incident", raise_exception=True)
def security_flag(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = SecurityFlagForm(request.POST)
    return post_action(
        request,
        form=form,
        invalid="Pick the kind of security incident.",
        act=lambda: services.flag_security_incident(
            incident=incident,
            actor=request.user,
            incident_type=form.cleaned_data["incident_type"],
        ),
        success="Flagged as a security incident: the phase clocks run from detection.",
        back=reverse("incidents:security", args=[pk]),
    )


@require_POST
@permission_required("incidents.change_securityresponse", raise_exception=True)
def security_notify(request, pk, notification_pk):
    response = _response_or_404(pk)
    notification = get_object_or_404(
        SecurityNotification, pk=notification_pk, response=response
    )
    form = SecurityNotifyForm(request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.record_security_notification(
            notification=notification, actor=request.user, how=form.cleaned_data["how"]
        ),
        success=f"{notification.label} told.",
        back=reverse("incidents:security", args=[pk]),
    )


@require_POST
@permission_required("incidents.change_securityresponse", raise_exception=True)
def security_tick(request, pk, item_pk):
    response = _response_or_404(pk)
    item = get_object_or_404(
        SecurityChecklistItem, pk=item_pk, phase__response=response
    )
    done = request.POST.get("done") != "0"
    return post_action(
        request,
        act=lambda: services.tick_security_item(
            item=item, actor=request.user, done=done
        ),
        success="Ticked." if done else "Unticked.",
        back=reverse("incidents:security", args=[pk]),
    )


@require_POST
@permission_required("incidents.change_securityresponse", raise_exception=True)
def security_phase_done(request, pk, phase_pk):
    response = _response_or_404(pk)
    phase = get_object_or_404(SecurityPhase, pk=phase_pk, response=response)
    return post_action(
        request,
        act=lambda: services.complete_security_phase(phase=phase, actor=request.user),
        success=f"{phase.get_kind_display()} phase done.",
        back=reverse("incidents:security", args=[pk]),
    )


@require_POST
@permission_required("incidents.change_securityresponse", raise_exception=True)
def security_clocks(request, pk):
    response = _response_or_404(pk)
    form = RegulatoryClocksForm(request.POST)
    return post_action(
        request,
        form=form,
        invalid="Pick the laws that apply from the list.",
        act=lambda: services.choose_regulatory_clocks(
            response=response,
            actor=request.user,
            regimes=list(form.cleaned_data["regimes"]),
        ),
        success="Regulatory clocks started.",
        back=reverse("incidents:security", args=[pk]),
    )


@require_POST
@permission_required("incidents.change_securityresponse", raise_exception=True)
def security_notice_filed(request, pk, clock_pk):
    response = _response_or_404(pk)
    clock = get_object_or_404(RegulatoryClock, pk=clock_pk, response=response)
    form = RegulatoryNoticeForm(request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.record_regulatory_notice(
            clock=clock, actor=request.user, reference=form.cleaned_data["reference"]
        ),
        success="Notice recorded.",
        back=reverse("incidents:security", args=[pk]),
    )


@require_POST
@permission_required("incidents.record_legal_approval", raise_exception=True)
def security_legal_approval(request, pk):
    response = _response_or_404(pk)
    form = LegalApprovalForm(request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.record_legal_approval(
            response=response, actor=request.user, **form.cleaned_data
        ),
        success="Legal's approval recorded: the security notice can be sent.",
        back=reverse("incidents:security", args=[pk]),
    )


@require_POST
@permission_required("incidents.add_postmortem", raise_exception=True)
def security_lessons_learned(request, pk):
    response = _response_or_404(pk)
    return post_action(
        request,
        act=lambda: services.start_lessons_learned(
            response=response, actor=request.user
        ),
        success="Lessons-learned post-mortem started.",
        back=reverse("incidents:security", args=[pk]),
        done=reverse("incidents:postmortem_edit", args=[pk]),
    )


def _report_initial(response: SecurityResponse) -> dict:
    return {
        "attack_vectors": response.attack_vectors,
        "data_accessed": response.data_accessed,
        "actions_taken": response.actions_taken,
        "shown_written_at": response.report_written_at.isoformat()
        if response.report_written_at
        else "",
    }


@require_POST
@permission_required("incidents.change_securityresponse", raise_exception=True)
def security_report(request, pk):
    response = _response_or_404(pk)
    form = SecurityReportForm(request.POST)
    if form.is_valid():
        try:
            services.write_security_report(
                response=response, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            if exc.code == "stale_report":
                # Saving the kept text again is then a choice made knowingly.
                response.refresh_from_db(fields=["report_written_at"])
                form.data = form.data.copy()
                form.data["shown_written_at"] = (
                    response.report_written_at.isoformat()
                    if response.report_written_at
                    else ""
                )
        else:
            messages.success(request, "Security report saved.")
            return redirect(
                reverse("incidents:security", args=[pk]) + "#security-report"
            )
    # The text stays on the page, with what stopped it.
    return _security_page(request, pk, report_form=form, status=400)
