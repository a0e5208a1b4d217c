"""A major incident's communication plan: the page, its edits and its review."""

from django.contrib.auth.decorators import permission_required
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from portal.actions import post_action

from .. import selectors, services
from ..forms import (
    PlanMetadataForm,
    PlanNotesForm,
    PlanReturnForm,
    PlanRowForm,
)
from ..models import (
    CommunicationPlan,
    CommunicationPlanRow,
    CommunicationPlanSection,
    Incident,
    PlanRowStatus,
)
from .lifecycle import incident_tabs


def _plan_or_404(pk: int) -> CommunicationPlan:
    return get_object_or_404(
        CommunicationPlan.objects.select_related("incident"), incident_id=pk
    )


@require_GET
@permission_required("incidents.view_communicationplan", raise_exception=True)
def communication_plan(request, pk):
    incident = get_object_or_404(Incident.objects.select_related("category"), pk=pk)
    context = {
        "incident": incident,
        "tabs": incident_tabs(request, incident, "postmortem"),
        "is_major": services.is_major_incident(incident),
    }
    try:
        plan, sections = selectors.communication_plan_page(incident_id=incident.pk)
    except CommunicationPlan.DoesNotExist:
        pass
    else:
        metadata = PlanMetadataForm(
            initial={
                "category": plan.category,
                "owner": plan.owner_id,
                "effective_on": plan.effective_on,
                "review_cycle": plan.review_cycle,
            }
        )
        metadata.fields["owner"].choices = [
            ("", "—"),
            *selectors.assignable_staff_choices(),
        ]
        context.update(
            plan=plan,
            sections=sections,
            metadata_form=metadata,
            row_form=PlanRowForm(),
            return_form=PlanReturnForm(),
            row_statuses=PlanRowStatus.choices,
            is_author=request.user.pk in (plan.created_by_id, plan.submitted_by_id),
        )
    return render(request, "incidents/plan_detail.html", context)


@require_POST
@permission_required("incidents.change_communicationplan", raise_exception=True)
def communication_plan_edit(request, pk):
    plan = _plan_or_404(pk)
    form = PlanMetadataForm(request.POST)
    was = plan.get_status_display().lower()
    return post_action(
        request,
        form=form,
        act=lambda: services.edit_communication_plan(
            plan=plan, actor=request.user, **form.cleaned_data
        ),
        success=lambda saved: (
            "Plan saved."
            if was == saved.get_status_display().lower()
            else f"Plan saved. It was {was} and is a draft again: send it for "
            "review once it is ready."
        ),
        back=reverse("incidents:plan", args=[pk]),
    )


@require_POST
@permission_required("incidents.change_communicationplan", raise_exception=True)
def communication_plan_row_add(request, pk, section_pk):
    plan = _plan_or_404(pk)
    section = get_object_or_404(CommunicationPlanSection, pk=section_pk, plan=plan)
    form = PlanRowForm(request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.add_plan_row(
            section=section, actor=request.user, **form.cleaned_data
        ),
        success="Row added.",
        back=reverse("incidents:plan", args=[pk]),
    )


@require_POST
@permission_required("incidents.change_communicationplan", raise_exception=True)
def communication_plan_row_edit(request, pk, row_pk):
    plan = _plan_or_404(pk)
    row = get_object_or_404(CommunicationPlanRow, pk=row_pk, section__plan=plan)
    form = PlanRowForm(request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.edit_plan_row(
            row=row, actor=request.user, **form.cleaned_data
        ),
        success="Row saved.",
        back=reverse("incidents:plan", args=[pk]),
    )


@require_POST
@permission_required("incidents.change_communicationplan", raise_exception=True)
def communication_plan_notes(request, pk, section_pk):
    plan = _plan_or_404(pk)
    section = get_object_or_404(CommunicationPlanSection, pk=section_pk, plan=plan)
    form = PlanNotesForm(request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.save_plan_section_notes(
            section=section, actor=request.user, notes=form.cleaned_data["notes"]
        ),
        success="Notes saved.",
        back=reverse("incidents:plan", args=[pk]),
    )


@require_POST
@permission_required("incidents.change_communicationplan", raise_exception=True)
def communication_plan_submit(request, pk):
    plan = _plan_or_404(pk)
    return post_action(
        request,
        act=lambda: services.submit_communication_plan(plan=plan, actor=request.user),
        success="Plan sent for review.",
        back=reverse("incidents:plan", args=[pk]),
    )


@require_POST
@permission_required("incidents.approve_communicationplan", raise_exception=True)
def communication_plan_approve(request, pk):
    plan = _plan_or_404(pk)
    return post_action(
        request,
        act=lambda: services.approve_communication_plan(plan=plan, actor=request.user),
        success="Plan approved.",
        back=reverse("incidents:plan", args=[pk]),
    )


@require_POST
@permission_required("incidents.approve_communicationplan", raise_exception=True)
def communication_plan_return(request, pk):
    plan = _plan_or_404(pk)
    form = PlanReturnForm(request.POST)
    return post_action(
        request,
        form=form,
        invalid="Say what needs changing.",
        act=lambda: services.return_communication_plan(
            plan=plan, actor=request.user, reason=form.cleaned_data["reason"]
        ),
        success="Plan sent back to draft.",
        back=reverse("incidents:plan", args=[pk]),
    )
