"""The incident page and its sidebar actions: edit, move, reopen, assign, first
response, affected customers and actions."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.actions import post_action
from portal.forms import error_codes
from portal.jinja2 import render_body, render_incident_tabs

from .. import selectors, services, timeline
from ..forms import (
    AffectedCustomerForm,
    AssignForm,
    FirstResponseForm,
    ImmediateActionForm,
    IncidentForm,
    MoveForm,
    ReopenForm,
    TakeForm,
    WarRoomForm,
)
from ..lifecycle import REOPENABLE
from ..models import (
    ActionItem,
    Incident,
)


def _shown(field, value):
    """Return a value as the form would label it (choice labels, not codes)."""
    choices = getattr(field, "choices", None)
    if choices and not hasattr(value, "pk"):
        return dict(choices).get(value, value)
    return value


@require_GET
def incident_detail(request, pk):
    try:
        incident = selectors.incident_detail(pk=pk)
    except Incident.DoesNotExist:
        raise Http404("No such incident.") from None
    now = timezone.now()
    clocks = selectors.incident_clocks(incident, now)
    version = {"version": incident.version}
    history = selectors.incident_history(incident)
    context = {
        "incident": incident,
        "clocks": clocks,
        "overall": selectors.overall_clock_state(clocks),
        "key_metrics": selectors.incident_key_metrics(incident, now),
        "timeline": timeline.timeline_view(
            history.timeline, request.GET.get("show", "")
        ),
        "timeline_views": [
            (key, label) for key, (label, _) in timeline.TIMELINE_VIEWS.items()
        ],
        "timeline_shown": request.GET.get("show", ""),
        "history": history,
        "is_closed": incident.status in REOPENABLE,
        "tabs": render_incident_tabs(request, incident, "details"),
    }
    if incident.status in REOPENABLE:
        context["reopen_form"] = ReopenForm(initial=version, incident=incident)
    else:
        context["move_form"] = MoveForm(initial=version, incident=incident)
    context["assign_form"] = AssignForm(
        initial={**version, "owner": incident.owner_id}, incident=incident
    )
    # The owner select lists plain (id, name) pairs: no user rows to build.
    staff = selectors.assignable_staff_choices()
    context["assign_form"].fields["owner"].choices = [
        ("", context["assign_form"].fields["owner"].empty_label),
        *staff,
    ]
    invites = incident.policy.war_room_roles
    if invites and (incident.war_room_opened_at or incident.priority == "P1"):
        context["war_room_invites"] = invites
        context["war_room_form"] = WarRoomForm(
            initial={
                **version,
                "call_url": incident.war_room_url,
                "commander": incident.commander_id,
            },
            incident=incident,
        )
        context["war_room_form"].fields["commander"].choices = [
            ("", context["war_room_form"].fields["commander"].empty_label),
            *staff,
        ]
    if incident.first_response_at is None:
        context["first_response_form"] = FirstResponseForm(incident=incident)
    if incident.is_systemic:
        context["affected_form"] = AffectedCustomerForm(incident=incident)
    context["action_form"] = ImmediateActionForm(incident=incident)
    context["body"] = render_body(
        request, "incidents/incident_detail_body.jinja", context
    )
    return render(request, "incidents/incident_detail.html", context)


@require_http_methods(["GET", "POST"])
@permission_required("incidents.change_incident", raise_exception=True)
def incident_edit(request, pk):
    incident = get_object_or_404(
        Incident.objects.select_related("customer", "category", "signal"), pk=pk
    )
    custom = services.custom_tags(incident)
    form = IncidentForm(
        request.POST or None,
        initial=IncidentForm.initial_for(incident, custom),
        editing=incident,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.edit_incident_details(
                incident=incident,
                actor=request.user,
                expected_version=form.cleaned_data["version"] or 0,
                changes=form.incident_fields(),
                extra_tags=form.cleaned_data["extra_tags"],
                journey=form.journey(),
                severity_criteria=list(form.cleaned_data["severity_criteria"]),
            )
        except ValidationError as exc:
            # A service error may carry one message or one per field.
            if "stale" not in error_codes(exc):
                form.add_error(None, exc)
            else:
                # Show the current values (saving them back would undo the
                # other person's change) and list what this person meant to
                # change, so they can apply it again on purpose.
                current = Incident.objects.select_related(
                    "customer", "category", "signal"
                ).get(pk=pk)
                attempted = form.incident_fields()
                stale = {
                    "message": exc.messages[0],
                    "yours": [
                        (form[name].label, _shown(form.fields[name], value))
                        for name, value in attempted.items()
                        if getattr(current, name) != value
                    ],
                }
                form = IncidentForm(
                    initial=IncidentForm.initial_for(
                        current, services.custom_tags(current)
                    ),
                    editing=current,
                )
                return render(
                    request,
                    "incidents/incident_form.html",
                    {"form": form, "incident": current, "stale": stale},
                    status=409,
                )
        else:
            messages.success(request, f"{incident.reference} saved.")
            return redirect(incident)
    return render(
        request, "incidents/incident_form.html", {"form": form, "incident": incident}
    )


@require_POST
@permission_required("incidents.change_incident_status", raise_exception=True)
def incident_move(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = MoveForm(request.POST, incident=incident)

    def move():
        data = form.cleaned_data
        to_closed = data["to_status"] in Incident.CLOSED_STATUSES
        service = services.close_incident if to_closed else services.move_incident
        return service(
            incident=incident,
            actor=request.user,
            to_status=data["to_status"],
            note=data["note"],
            expected_version=data["version"],
        )

    return post_action(
        request,
        form=form,
        invalid="Pick a status the incident can move to.",
        act=move,
        success=lambda moved: (
            f"Status changed to {moved.get_status_display().lower()}."
        ),
        back=incident,
    )


@require_POST
@permission_required("incidents.reopen_incident", raise_exception=True)
def incident_reopen(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = ReopenForm(request.POST, incident=incident)
    return post_action(
        request,
        form=form,
        invalid="Say why the incident is reopened.",
        act=lambda: services.reopen_incident(
            incident=incident,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data["version"],
        ),
        success="Incident reopened; its history is kept below.",
        back=incident,
    )


@require_POST
@permission_required("incidents.assign_incident", raise_exception=True)
def incident_war_room(request, pk):
    incident = get_object_or_404(Incident.objects.select_related("policy"), pk=pk)
    form = WarRoomForm(request.POST, incident=incident)
    opening = incident.war_room_opened_at is None
    return post_action(
        request,
        form=form,
        act=lambda: services.run_war_room(
            incident=incident,
            actor=request.user,
            call_url=form.cleaned_data["call_url"],
            commander=form.cleaned_data["commander"],
            expected_version=form.cleaned_data["version"],
        ),
        success="War room open: invite everyone listed and share the link."
        if opening
        else "War room updated.",
        back=incident,
    )


@require_POST
@permission_required("incidents.assign_incident", raise_exception=True)
def incident_assign(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = AssignForm(request.POST, incident=incident)
    return post_action(
        request,
        form=form,
        invalid="Pick someone from the list.",
        act=lambda: services.assign_incident(
            incident=incident,
            actor=request.user,
            owner=form.cleaned_data["owner"],
            expected_version=form.cleaned_data["version"],
        ),
        success=lambda assigned: (
            f"Owner set to {assigned.owner.get_username()}."
            if assigned.owner
            else "Incident unassigned."
        ),
        back=incident,
    )


@require_POST
@permission_required("incidents.assign_incident", raise_exception=True)
def incident_take(request, pk):
    """Make the signed-in person the owner, from the list or the home page."""
    incident = get_object_or_404(Incident, pk=pk)
    form = TakeForm(request.POST)
    back = request.POST.get("next", "")
    # A path on this site only; redirect() would take other text for a view name.
    if not (
        back.startswith("/")
        and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})
    ):
        back = incident
    return post_action(
        request,
        form=form,
        invalid="That page was out of date; reload it and try again.",
        act=lambda: services.assign_incident(
            incident=incident,
            actor=request.user,
            owner=request.user,
            expected_version=form.cleaned_data["version"],
        ),
        success="You own it now.",
        back=back,
    )


@require_POST
@permission_required("incidents.record_first_response", raise_exception=True)
def incident_first_response(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = FirstResponseForm(request.POST, incident=incident)
    return post_action(
        request,
        form=form,
        invalid="Give the reply time as a date and time.",
        act=lambda: services.record_first_response(
            incident=incident,
            actor=request.user,
            responded_at=form.cleaned_data["responded_at"],
            channel=form.cleaned_data["channel"],
        ),
        success="First response recorded.",
        back=incident,
    )


@require_POST
@permission_required("incidents.change_incident", raise_exception=True)
def incident_add_affected(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = AffectedCustomerForm(request.POST, incident=incident)
    return post_action(
        request,
        form=form,
        act=lambda: services.add_affected_customer(
            incident=incident,
            actor=request.user,
            customer=form.cleaned_data["customer"],
            status_before=form.cleaned_data["status_before"],
        ),
        success=lambda _: (
            f"{form.cleaned_data['customer'].name} added to the affected customers."
        ),
        back=incident,
    )


@require_POST
@permission_required("incidents.change_incident", raise_exception=True)
def incident_add_action(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = ImmediateActionForm(request.POST, incident=incident)
    return post_action(
        request,
        form=form,
        invalid="An action needs who does it and what they do.",
        act=lambda: services.add_immediate_action(
            incident=incident, actor=request.user, **form.cleaned_data
        ),
        success="Action added.",
        back=incident,
    )


@require_POST
@permission_required("incidents.change_incident", raise_exception=True)
def action_item_complete(request, pk, item_pk):
    item = get_object_or_404(ActionItem, pk=item_pk, incident_id=pk)
    return post_action(
        request,
        act=lambda: services.complete_action_item(item=item, actor=request.user),
        success="Action marked done.",
        back=reverse("incidents:detail", args=[pk]),
    )


def incident_tabs(request, incident: Incident, tab: str) -> str:
    return render_incident_tabs(request, incident, tab)
