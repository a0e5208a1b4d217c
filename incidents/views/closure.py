"""The Closure tab: resolve, the checklist, close and recurrence."""

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
    ChecklistNotApplicableForm,
    ChecklistTickForm,
    CloseForm,
    RecurrenceForm,
    ResolveForm,
)
from ..lifecycle import REOPENABLE
from ..models import (
    Incident,
    IncidentChecklistItem,
    ResolutionVerification,
)

# The resolution messages the composer offers, per audience involved
# (carrier communication playbook, part 5): the internal chat post and note,
# the customer's e-mail, the partner's and vendor's confirmations.
_RESOLUTION_MESSAGES = [
    ("internal", "chat", "Team chat: incident resolved"),
    ("internal", "note", "Internal resolution note"),
    ("customer", "email", "Customer: it is resolved"),
    ("partner", "email", "Partner: resolution confirmation"),
    ("vendor", "email", "Vendor: resolved, please close"),
]


def _resolution_messages(incident: Incident) -> list[dict]:
    involved = {"internal"}
    if incident.customer_id or incident.is_systemic:
        involved.add("customer")
    if incident.is_partner_action_needed:
        involved.add("partner")
    if incident.is_vendor_action_needed:
        involved.add("vendor")
    return [
        {"audience": audience, "channel": channel, "label": label}
        for audience, channel, label in _RESOLUTION_MESSAGES
        if audience in involved
    ]


def _closure_context(request, incident: Incident, **extra) -> dict:
    now = timezone.now()
    checklists = selectors.incident_closure(incident)
    facts = services.closure_facts(incident, now)
    # What evidence shows for items still open: the page says so even
    # before the sweep ticks them.
    for checklist in checklists:
        for item in checklist.items.all():
            item.found = (
                services.evidence_found(item, facts)
                if item.state == "open" and item.evidence != "none"
                else None
            )
    can_resolve = incident.status not in (
        Incident.Status.NEW,
        Incident.Status.RESOLVED,
        *Incident.CLOSED_STATUSES,
    )
    context = {
        "incident": incident,
        "tab": "closure",
        "checklists": checklists,
        "blockers": services.closure_blockers(incident, now=now)
        if incident.status == Incident.Status.RESOLVED
        else [],
        "resolution_messages": _resolution_messages(incident),
        # Status pages still saying it is going on (the statuspage app's
        # publications of this incident).
        "open_publications": incident.publications.filter(starts_at__isnull=False)
        .exclude(status="resolved")
        .select_related("page")
        .order_by("page__name")
        if incident.status == Incident.Status.RESOLVED
        else [],
        "is_resolved": incident.status == Incident.Status.RESOLVED,
        "is_closed": incident.status in REOPENABLE,
        "in_monitoring": incident.monitoring_ends_at is not None
        and now < incident.monitoring_ends_at,
        "resolution": incident.timeline_events.filter(kind="resolution_recorded")
        .order_by("-created_at", "-id")
        .first()
        if incident.resolved_at
        else None,
        "verification_labels": dict(ResolutionVerification.choices),
    }
    if can_resolve and "resolve_form" not in extra:
        context["resolve_form"] = ResolveForm.for_incident(incident)
    context.update(extra)
    return context


def _closure_incident(pk: int) -> Incident:
    return get_object_or_404(
        Incident.objects.select_related("customer", "category", "policy", "signal"),
        pk=pk,
    )


@require_GET
def incident_closure(request, pk):
    incident = _closure_incident(pk)
    return render(
        request,
        "incidents/closure.html",
        _closure_context(request, incident),
    )


@require_POST
@permission_required("incidents.change_incident_status", raise_exception=True)
def incident_resolve(request, pk):
    incident = _closure_incident(pk)
    form = ResolveForm.for_incident(incident, request.POST)
    if form.is_valid():
        try:
            services.resolve_incident(
                incident=incident,
                actor=request.user,
                expected_version=form.cleaned_data.pop("version"),
                **form.cleaned_data,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"{incident.reference} resolved; the monitoring window has "
                "started. Send the resolution messages below.",
            )
            return redirect("incidents:closure", pk=pk)
    return render(
        request,
        "incidents/closure.html",
        _closure_context(request, incident, resolve_form=form),
        status=400,
    )


def _at_item(pk: int, item: IncidentChecklistItem) -> str:
    """The closure tab scrolled to the item, so the reader keeps their place."""
    return reverse("incidents:closure", args=[pk]) + f"#item-{item.pk}"


def _checklist_item(pk: int, item_pk: int) -> IncidentChecklistItem:
    return get_object_or_404(
        IncidentChecklistItem.objects.select_related("checklist"),
        pk=item_pk,
        checklist__incident_id=pk,
    )


@require_POST
@permission_required("incidents.work_checklist", raise_exception=True)
def checklist_item_tick(request, pk, item_pk):
    item = _checklist_item(pk, item_pk)
    form = ChecklistTickForm(request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.tick_checklist_item(
            item=item, actor=request.user, note=form.cleaned_data["note"]
        ),
        success="Item ticked.",
        back=_at_item(pk, item),
    )


@require_POST
@permission_required("incidents.work_checklist", raise_exception=True)
def checklist_item_not_applicable(request, pk, item_pk):
    item = _checklist_item(pk, item_pk)
    form = ChecklistNotApplicableForm(request.POST)
    return post_action(
        request,
        form=form,
        invalid="Say why the item does not apply.",
        act=lambda: services.mark_checklist_item_not_applicable(
            item=item, actor=request.user, reason=form.cleaned_data["reason"]
        ),
        success="Item marked not applicable.",
        back=_at_item(pk, item),
    )


@require_POST
@permission_required("incidents.work_checklist", raise_exception=True)
def checklist_item_reopen(request, pk, item_pk):
    item = _checklist_item(pk, item_pk)
    return post_action(
        request,
        act=lambda: services.reopen_checklist_item(item=item, actor=request.user),
        success="Item open again.",
        back=_at_item(pk, item),
    )


@require_POST
@permission_required("incidents.change_incident_status", raise_exception=True)
def incident_close(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = CloseForm(request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.close_incident(
            incident=incident,
            actor=request.user,
            note=form.cleaned_data["note"],
            expected_version=form.cleaned_data["version"],
        ),
        success=f"{incident.reference} closed.",
        back=reverse("incidents:closure", args=[pk]),
        done=incident,
    )


@require_POST
@permission_required("incidents.change_incident_status", raise_exception=True)
def incident_recurrence(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = RecurrenceForm(request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.report_recurrence(
            incident=incident,
            actor=request.user,
            note=form.cleaned_data["note"],
            expected_version=form.cleaned_data["version"],
        ),
        success="Back in investigation; its history and checklist are kept.",
        back=incident,
    )


@require_POST
@permission_required("incidents.work_checklist", raise_exception=True)
def incident_refresh_checklists(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    return post_action(
        request,
        act=lambda: services.refresh_checklists(incident=incident, actor=request.user),
        success="Checklist checked against the evidence.",
        back=reverse("incidents:closure", args=[pk]),
    )
