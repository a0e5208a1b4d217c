from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.backends.utils import csrf_input
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.forms import error_codes
from portal.middleware import SESSION_TIME_ZONE_KEY

from . import selectors, services, surveys
from .forms import (
    AffectedCustomerForm,
    AssignForm,
    ChecklistNotApplicableForm,
    ChecklistTickForm,
    CloseForm,
    FirstResponseForm,
    ImmediateActionForm,
    IncidentFilterForm,
    IncidentForm,
    LegalApprovalForm,
    MoveForm,
    PlanMetadataForm,
    PlanNotesForm,
    PlanReturnForm,
    PlanRowForm,
    PostMortemActionForm,
    PostMortemForm,
    PostMortemReturnForm,
    PostMortemRowForm,
    PostMortemSearchForm,
    PostMortemStartForm,
    RecurrenceForm,
    RegulatoryClocksForm,
    RegulatoryNoticeForm,
    ReopenForm,
    ResolveForm,
    SecurityFlagForm,
    SecurityNotifyForm,
    SurveyForm,
    TakeForm,
    TimeZoneForm,
)
from .lifecycle import REOPENABLE
from .models import (
    ActionItem,
    CommunicationPlan,
    CommunicationPlanRow,
    CommunicationPlanSection,
    Incident,
    IncidentChecklistItem,
    PlanRowStatus,
    PostMortem,
    PostMortemTimelineRow,
    RegulatoryClock,
    RegulatoryRegime,
    ResolutionVerification,
    SecurityChecklistItem,
    SecurityNotification,
    SecurityPhase,
    SecurityResponse,
    StaffProfile,
)
from .pagination import CappedCountPaginator

PAGE_SIZE = 25


def _shown(field, value):
    """Return a value as the form would label it (choice labels, not codes)."""
    choices = getattr(field, "choices", None)
    if choices and not hasattr(value, "pk"):
        return dict(choices).get(value, value)
    return value


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


class SignInView(auth_views.LoginView):
    """Sign in, then carry the person's time zone in the session."""

    def form_valid(self, form):
        response = super().form_valid(form)
        profile = StaffProfile.objects.filter(user=form.get_user()).first()
        if profile:
            self.request.session[SESSION_TIME_ZONE_KEY] = profile.time_zone
        return response


@require_GET
def incident_list(request):
    staff = list(selectors.assignable_staff())
    filter_form = IncidentFilterForm(
        request.GET or None, viewer=request.user, staff=staff
    )
    now = timezone.now()
    incidents = selectors.incident_list(filters=filter_form.filters(), now=now)
    page = CappedCountPaginator(
        incidents, PAGE_SIZE, rows=selectors.incident_rows()
    ).get_page(request.GET.get("page"))
    rows = []
    for incident in page.object_list:
        clocks = selectors.incident_clocks(incident, now)
        rows.append((incident, clocks, selectors.overall_clock_state(clocks)))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "incidents/incident_list.html",
        {
            "filter_form": filter_form,
            "page": page,
            "rows": rows,
            "query_string": query.urlencode(),
            # Looked up once: {% if perms %} in each row would cost per row.
            "can_assign": request.user.has_perm("incidents.assign_incident"),
            "is_filtered": any(v for k, v in request.GET.items() if k != "page"),
        },
    )


@require_http_methods(["GET", "POST"])
@permission_required("incidents.add_incident", raise_exception=True)
def incident_create(request):
    form = IncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident = services.open_incident(
                actor=request.user,
                owner=form.cleaned_data["owner"],
                extra_tags=form.cleaned_data["extra_tags"],
                immediate_actions=form.immediate_actions(),
                journey=form.journey(),
                severity_criteria=list(form.cleaned_data["severity_criteria"]),
                **form.incident_fields(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{incident.reference} opened.")
            return redirect(incident)
    return render(request, "incidents/incident_form.html", {"form": form})


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
        "timeline": history.timeline,
        "history": history,
        "is_closed": incident.status in REOPENABLE,
        # Loaded once (one query) and cached on the user for the request.
        "permissions": request.user.get_all_permissions(),
        # One masked token for the page's forms, as {% csrf_token %} gives.
        "csrf_field": csrf_input(request),
        "tabs": render_to_string(
            "comms/_incident_tabs.html",
            {"incident": incident, "tab": "details"},
            request,
        ),
    }
    if incident.status in REOPENABLE:
        context["reopen_form"] = ReopenForm(initial=version, incident=incident)
    else:
        context["move_form"] = MoveForm(initial=version, incident=incident)
    context["assign_form"] = AssignForm(
        initial={**version, "owner": incident.owner_id}, incident=incident
    )
    # The owner select lists plain (id, name) pairs: no user rows to build.
    context["assign_form"].fields["owner"].choices = [
        ("", context["assign_form"].fields["owner"].empty_label),
        *selectors.assignable_staff_choices(),
    ]
    if incident.first_response_at is None:
        context["first_response_form"] = FirstResponseForm(incident=incident)
    if incident.is_systemic:
        context["affected_form"] = AffectedCustomerForm(incident=incident)
    context["action_form"] = ImmediateActionForm(incident=incident)
    # Jinja2 escaped the body as it rendered it.
    context["body"] = mark_safe(
        render_to_string(
            "incidents/incident_detail_body.jinja", {**context}, request, using="jinja2"
        )
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


def _run(request, pk, action, success: str):
    incident = get_object_or_404(Incident, pk=pk)
    try:
        action(incident)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, success)
    return redirect(incident)


@require_POST
@permission_required("incidents.change_incident_status", raise_exception=True)
def incident_move(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = MoveForm(request.POST, incident=incident)
    if not form.is_valid():
        messages.error(request, "Pick a status the incident can move to.")
        return redirect(incident)
    data = form.cleaned_data
    if data["to_status"] in Incident.CLOSED_STATUSES:
        return _run(
            request,
            pk,
            lambda inc: services.close_incident(
                incident=inc,
                actor=request.user,
                to_status=data["to_status"],
                note=data["note"],
                expected_version=data["version"],
            ),
            f"Status changed to {Incident.Status(data['to_status']).label.lower()}.",
        )
    return _run(
        request,
        pk,
        lambda inc: services.move_incident(
            incident=inc,
            actor=request.user,
            to_status=data["to_status"],
            note=data["note"],
            expected_version=data["version"],
        ),
        f"Status changed to {Incident.Status(data['to_status']).label.lower()}.",
    )


@require_POST
@permission_required("incidents.reopen_incident", raise_exception=True)
def incident_reopen(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = ReopenForm(request.POST, incident=incident)
    if not form.is_valid():
        messages.error(request, "Say why the incident is reopened.")
        return redirect(incident)
    return _run(
        request,
        pk,
        lambda inc: services.reopen_incident(
            incident=inc,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data["version"],
        ),
        "Incident reopened; its history is kept below.",
    )


@require_POST
@permission_required("incidents.assign_incident", raise_exception=True)
def incident_assign(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = AssignForm(request.POST, incident=incident)
    if not form.is_valid():
        messages.error(request, "Pick someone from the list.")
        return redirect(incident)
    owner = form.cleaned_data["owner"]
    return _run(
        request,
        pk,
        lambda inc: services.assign_incident(
            incident=inc,
            actor=request.user,
            owner=owner,
            expected_version=form.cleaned_data["version"],
        ),
        f"Owner set to {owner.get_username()}." if owner else "Incident unassigned.",
    )


@require_POST
@permission_required("incidents.assign_incident", raise_exception=True)
def incident_take(request, pk):
    """Make the signed-in person the owner, from the list or the home page."""
    form = TakeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That page was out of date; reload it and try again.")
        return redirect("incidents:detail", pk=pk)
    _run(
        request,
        pk,
        lambda inc: services.assign_incident(
            incident=inc,
            actor=request.user,
            owner=request.user,
            expected_version=form.cleaned_data["version"],
        ),
        "You own it now.",
    )
    back = form.cleaned_data["next"]
    # A path on this site only; redirect() would take other text for a view name.
    if back.startswith("/") and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}
    ):
        return HttpResponseRedirect(back)
    return redirect("incidents:detail", pk=pk)


@require_POST
@permission_required("incidents.record_first_response", raise_exception=True)
def incident_first_response(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = FirstResponseForm(request.POST, incident=incident)
    if not form.is_valid():
        messages.error(request, "Give the reply time as a date and time.")
        return redirect(incident)
    return _run(
        request,
        pk,
        lambda inc: services.record_first_response(
            incident=inc,
            actor=request.user,
            responded_at=form.cleaned_data["responded_at"],
            channel=form.cleaned_data["channel"],
        ),
        "First response recorded.",
    )


@require_POST
@permission_required("incidents.change_incident", raise_exception=True)
def incident_add_affected(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = AffectedCustomerForm(request.POST, incident=incident)
    if not form.is_valid():
        messages.error(
            request, " ".join(e for errs in form.errors.values() for e in errs)
        )
        return redirect(incident)
    customer = form.cleaned_data["customer"]
    return _run(
        request,
        pk,
        lambda inc: services.add_affected_customer(
            incident=inc,
            actor=request.user,
            customer=customer,
            status_before=form.cleaned_data["status_before"],
        ),
        f"{customer.name} added to the affected customers.",
    )


@require_POST
@permission_required("incidents.change_incident", raise_exception=True)
def incident_add_action(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = ImmediateActionForm(request.POST, incident=incident)
    if not form.is_valid():
        messages.error(request, "An action needs who does it and what they do.")
        return redirect(incident)
    return _run(
        request,
        pk,
        lambda inc: services.add_immediate_action(
            incident=inc, actor=request.user, **form.cleaned_data
        ),
        "Action added.",
    )


@require_POST
@permission_required("incidents.change_incident", raise_exception=True)
def action_item_complete(request, pk, item_pk):
    item = get_object_or_404(ActionItem, pk=item_pk, incident_id=pk)
    try:
        services.complete_action_item(item=item, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, "Action marked done.")
    return redirect("incidents:detail", pk=pk)


@require_GET
@permission_required("incidents.view_customer", raise_exception=True)
def customer_search(request):
    customers = selectors.customers_matching(request.GET.get("q", ""))
    return JsonResponse(
        {
            "results": [
                {
                    "account_id": c.account_id,
                    "label": f"{c.name} <{c.email}> · {c.get_segment_display()}"
                    + (" · VIP" if c.is_vip else ""),
                }
                for c in customers
            ]
        }
    )


@require_http_methods(["GET", "POST"])
def profile(request):
    current = (
        request.session.get(SESSION_TIME_ZONE_KEY)
        or timezone.get_current_timezone_name()
    )
    form = TimeZoneForm(request.POST or None, initial={"time_zone": current})
    if request.method == "POST" and form.is_valid():
        try:
            services.choose_time_zone(
                user=request.user, time_zone=form.cleaned_data["time_zone"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            request.session[SESSION_TIME_ZONE_KEY] = form.cleaned_data["time_zone"]
            messages.success(request, "Time zone saved.")
            return redirect("profile")
    return render(request, "incidents/profile.html", {"form": form})


# ---------------------------------------------------------------------------
# Resolve and closure (issue 13, part A)
# ---------------------------------------------------------------------------

# The resolution messages the composer offers, per audience involved
# (000 part 5): the internal chat post and note, the customer's e-mail,
# the partner's and vendor's confirmations.
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
        context["resolve_form"] = ResolveForm(initial=ResolveForm.initial_for(incident))
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
    form = ResolveForm(request.POST)
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


def _on_item(request, pk, item_pk, action, success: str):
    item = get_object_or_404(
        IncidentChecklistItem.objects.select_related("checklist"),
        pk=item_pk,
        checklist__incident_id=pk,
    )
    try:
        action(item)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, success)
    return redirect("incidents:closure", pk=pk)


@require_POST
@permission_required("incidents.work_checklist", raise_exception=True)
def checklist_item_tick(request, pk, item_pk):
    form = ChecklistTickForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    return _on_item(
        request,
        pk,
        item_pk,
        lambda item: services.tick_checklist_item(
            item=item, actor=request.user, note=note
        ),
        "Item ticked.",
    )


@require_POST
@permission_required("incidents.work_checklist", raise_exception=True)
def checklist_item_not_applicable(request, pk, item_pk):
    form = ChecklistNotApplicableForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the item does not apply.")
        return redirect("incidents:closure", pk=pk)
    return _on_item(
        request,
        pk,
        item_pk,
        lambda item: services.mark_checklist_item_not_applicable(
            item=item, actor=request.user, reason=form.cleaned_data["reason"]
        ),
        "Item marked not applicable.",
    )


@require_POST
@permission_required("incidents.work_checklist", raise_exception=True)
def checklist_item_reopen(request, pk, item_pk):
    return _on_item(
        request,
        pk,
        item_pk,
        lambda item: services.reopen_checklist_item(item=item, actor=request.user),
        "Item open again.",
    )


@require_POST
@permission_required("incidents.change_incident_status", raise_exception=True)
def incident_close(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = CloseForm(request.POST)
    data = form.cleaned_data if form.is_valid() else {"note": "", "version": None}
    try:
        services.close_incident(
            incident=incident,
            actor=request.user,
            note=data["note"],
            expected_version=data["version"],
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect("incidents:closure", pk=pk)
    messages.success(request, f"{incident.reference} closed.")
    return redirect(incident)


@require_POST
@permission_required("incidents.change_incident_status", raise_exception=True)
def incident_recurrence(request, pk):
    form = RecurrenceForm(request.POST)
    data = form.cleaned_data if form.is_valid() else {"note": "", "version": None}
    return _run(
        request,
        pk,
        lambda inc: services.report_recurrence(
            incident=inc,
            actor=request.user,
            note=data["note"],
            expected_version=data["version"],
        ),
        "Back in investigation; its history and checklist are kept.",
    )


@require_POST
@permission_required("incidents.work_checklist", raise_exception=True)
def incident_refresh_checklists(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    try:
        services.refresh_checklists(incident=incident, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, "Checklist checked against the evidence.")
    return redirect("incidents:closure", pk=pk)


# --- Satisfaction survey (issue 15) -----------------------------------------


@login_not_required
@require_http_methods(["GET", "POST"])
def survey_answer(request, token):
    """The customer's one-page survey, reached from the resolution e-mail."""
    read = surveys.read_survey_token(token)
    if read is None:
        return render(
            request, "incidents/survey_closed.html", {"reason": "bad_link"}, status=404
        )
    incident_id, customer_id = read
    if request.method == "GET" and selectors.survey_answered(
        incident_id=incident_id, customer_id=customer_id
    ):
        # Opening the link again shows the answer was kept, not a blank form.
        return render(request, "incidents/survey_closed.html", {"reason": "answered"})
    form = SurveyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.answer_survey(token=token, answers=form.cleaned_data)
        except ValidationError as exc:
            codes = error_codes(exc)
            if "answered" in codes or "bad_link" in codes:
                reason = "answered" if "answered" in codes else "bad_link"
                return render(
                    request,
                    "incidents/survey_closed.html",
                    {"reason": reason},
                    status=409 if reason == "answered" else 404,
                )
            form.add_error(None, exc)
        else:
            return render(request, "incidents/survey_closed.html", {"reason": "thanks"})
    return render(request, "incidents/survey.html", {"form": form})


# --- Post-mortems (issue 13 part B) ------------------------------------------

POSTMORTEM_PAGE_SIZE = 25


def _incident_tabs(request, incident: Incident, tab: str) -> str:
    return render_to_string(
        "comms/_incident_tabs.html", {"incident": incident, "tab": tab}, request
    )


def _postmortem_or_404(pk: int) -> PostMortem:
    return get_object_or_404(
        PostMortem.objects.select_related("incident"), incident_id=pk
    )


def _duration(incident: Incident) -> str:
    """Return how long the incident lasted, detection to resolution, in words."""
    end = incident.resolved_at or incident.closed_at
    return timesince(incident.detected_at, end, depth=2) if end else ""


@require_GET
@permission_required("incidents.view_postmortem", raise_exception=True)
def postmortem_detail(request, pk):
    incident = get_object_or_404(Incident.objects.select_related("category"), pk=pk)
    context = {
        "incident": incident,
        "tabs": _incident_tabs(request, incident, "postmortem"),
        "is_required": services.postmortem_required(incident),
    }
    try:
        page = selectors.postmortem_page(incident_id=incident.pk)
    except PostMortem.DoesNotExist:
        context["start_form"] = PostMortemStartForm()
    else:
        context["page"] = page
        context["postmortem"] = page.postmortem
        context["now"] = timezone.now()
        context["duration"] = _duration(incident)
        context["gaps"] = services.postmortem_gaps(page.postmortem)
        context["return_form"] = PostMortemReturnForm()
    return render(request, "incidents/postmortem_detail.html", context)


@require_POST
@permission_required("incidents.add_postmortem", raise_exception=True)
def postmortem_start(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = PostMortemStartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the meeting date as a date, or leave it empty.")
        return redirect("incidents:postmortem", pk=pk)
    try:
        services.start_postmortem(
            incident=incident,
            actor=request.user,
            scheduled_on=form.cleaned_data["scheduled_on"],
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect("incidents:postmortem", pk=pk)
    messages.success(request, "Post-mortem started; its timeline is written below.")
    return redirect("incidents:postmortem_edit", pk=pk)


@require_http_methods(["GET", "POST"])
@permission_required("incidents.change_postmortem", raise_exception=True)
def postmortem_edit(request, pk):
    postmortem = _postmortem_or_404(pk)
    if postmortem.status == PostMortem.Status.PUBLISHED:
        messages.info(request, "The post-mortem is published and read-only.")
        return redirect(postmortem)
    form = PostMortemForm(
        request.POST or None,
        initial={
            name: getattr(postmortem, name)
            for name in ("scheduled_on", *services.POSTMORTEM_TEXT_FIELDS)
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.edit_postmortem(
                postmortem=postmortem, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Post-mortem saved.")
            return redirect("incidents:postmortem_edit", pk=pk)
    return _render_postmortem_edit(request, postmortem, form=form)


def _render_postmortem_edit(
    request, postmortem, *, form=None, row_form=None, action_form=None, status=200
):
    page = selectors.postmortem_page(incident_id=postmortem.incident_id)
    staff = selectors.assignable_staff_choices()
    action_form = action_form or PostMortemActionForm()
    action_form.fields["owner"].choices = [("", "—"), *staff]
    return render(
        request,
        "incidents/postmortem_edit.html",
        {
            "incident": page.postmortem.incident,
            "postmortem": page.postmortem,
            "page": page,
            "form": form
            or PostMortemForm(
                initial={
                    name: getattr(page.postmortem, name)
                    for name in ("scheduled_on", *services.POSTMORTEM_TEXT_FIELDS)
                }
            ),
            "row_form": row_form or PostMortemRowForm(),
            "action_form": action_form,
            "tabs": _incident_tabs(request, page.postmortem.incident, "postmortem"),
            "now": timezone.now(),
        },
        status=status,
    )


@require_POST
@permission_required("incidents.change_postmortem", raise_exception=True)
def postmortem_row_add(request, pk):
    postmortem = _postmortem_or_404(pk)
    form = PostMortemRowForm(request.POST)
    if form.is_valid():
        try:
            services.add_postmortem_row(
                postmortem=postmortem, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Timeline row added.")
            return redirect("incidents:postmortem_edit", pk=pk)
    return _render_postmortem_edit(request, postmortem, row_form=form, status=400)


@require_POST
@permission_required("incidents.change_postmortem", raise_exception=True)
def postmortem_row_edit(request, pk, row_pk):
    postmortem = _postmortem_or_404(pk)
    row = get_object_or_404(PostMortemTimelineRow, pk=row_pk, postmortem=postmortem)
    form = PostMortemRowForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A row needs a time and what happened.")
        return redirect("incidents:postmortem_edit", pk=pk)
    try:
        services.edit_postmortem_row(row=row, actor=request.user, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, "Timeline row saved.")
    return redirect("incidents:postmortem_edit", pk=pk)


@require_POST
@permission_required("incidents.change_postmortem", raise_exception=True)
def postmortem_row_hide(request, pk, row_pk):
    postmortem = _postmortem_or_404(pk)
    row = get_object_or_404(PostMortemTimelineRow, pk=row_pk, postmortem=postmortem)
    hidden = request.POST.get("hidden") != "0"
    try:
        services.hide_postmortem_row(row=row, actor=request.user, hidden=hidden)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, "Row hidden." if hidden else "Row shown again.")
    return redirect("incidents:postmortem_edit", pk=pk)


@require_POST
@permission_required("incidents.change_postmortem", raise_exception=True)
def postmortem_refresh(request, pk):
    postmortem = _postmortem_or_404(pk)
    try:
        rows = services.refresh_postmortem_timeline(
            postmortem=postmortem, actor=request.user
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(
            request,
            f"{len(rows)} new moment{'s' if len(rows) != 1 else ''} added."
            if rows
            else "The timeline already has every moment the incident reached.",
        )
    return redirect("incidents:postmortem_edit", pk=pk)


@require_POST
@permission_required("incidents.change_postmortem", raise_exception=True)
def postmortem_action_add(request, pk):
    postmortem = _postmortem_or_404(pk)
    form = PostMortemActionForm(request.POST)
    form.fields["owner"].queryset = selectors.assignable_staff()
    if form.is_valid():
        try:
            services.add_postmortem_action(
                postmortem=postmortem, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Action added.")
            return redirect("incidents:postmortem_edit", pk=pk)
    return _render_postmortem_edit(request, postmortem, action_form=form, status=400)


@require_POST
@permission_required("incidents.change_postmortem", raise_exception=True)
def postmortem_submit(request, pk):
    postmortem = _postmortem_or_404(pk)
    try:
        services.submit_postmortem_for_review(postmortem=postmortem, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, "Sent for review.")
    return redirect(postmortem)


@require_POST
@permission_required("incidents.publish_postmortem", raise_exception=True)
def postmortem_return(request, pk):
    postmortem = _postmortem_or_404(pk)
    form = PostMortemReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say what needs changing.")
        return redirect(postmortem)
    try:
        services.return_postmortem_to_draft(
            postmortem=postmortem, actor=request.user, **form.cleaned_data
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, "Sent back to draft.")
    return redirect(postmortem)


@require_POST
@permission_required("incidents.publish_postmortem", raise_exception=True)
def postmortem_publish(request, pk):
    postmortem = _postmortem_or_404(pk)
    try:
        services.publish_postmortem(postmortem=postmortem, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, "Post-mortem published.")
    return redirect(postmortem)


@require_GET
@permission_required("incidents.view_postmortem", raise_exception=True)
def postmortem_print(request, pk):
    try:
        page = selectors.postmortem_page(incident_id=pk)
    except PostMortem.DoesNotExist:
        raise Http404("This incident has no post-mortem.") from None
    incident = page.postmortem.incident
    return render(
        request,
        "incidents/postmortem_print.html",
        {
            "incident": incident,
            "postmortem": page.postmortem,
            "page": page,
            "duration": _duration(incident),
            "now": timezone.now(),
        },
    )


@require_GET
@permission_required("incidents.view_postmortem", raise_exception=True)
def postmortem_list(request):
    form = PostMortemSearchForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {"q": "", "status": ""}
    postmortems = selectors.postmortem_list(
        search=filters["q"], status=filters["status"]
    )
    page = CappedCountPaginator(postmortems, POSTMORTEM_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "incidents/postmortem_list.html",
        {"form": form, "page": page, "query_string": query.urlencode()},
    )


# --- Communication plans (issue 13 part B: seed 003) -------------------------


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
        "tabs": _incident_tabs(request, incident, "postmortem"),
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


def _plan_action(request, pk, action, success: str):
    plan = _plan_or_404(pk)
    try:
        action(plan)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, success)
    return redirect("incidents:plan", pk=pk)


@require_POST
@permission_required("incidents.change_communicationplan", raise_exception=True)
def communication_plan_edit(request, pk):
    form = PlanMetadataForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("incidents:plan", pk=pk)
    return _plan_action(
        request,
        pk,
        lambda plan: services.edit_communication_plan(
            plan=plan, actor=request.user, **form.cleaned_data
        ),
        "Plan saved.",
    )


def _form_errors(form) -> str:
    return " ".join(
        f"{form[name].label if name in form.fields else ''}: {error}".lstrip(": ")
        for name, errors in form.errors.items()
        for error in errors
    )


@require_POST
@permission_required("incidents.change_communicationplan", raise_exception=True)
def communication_plan_row_add(request, pk, section_pk):
    plan = _plan_or_404(pk)
    section = get_object_or_404(CommunicationPlanSection, pk=section_pk, plan=plan)
    form = PlanRowForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("incidents:plan", pk=pk)
    return _plan_action(
        request,
        pk,
        lambda plan: services.add_plan_row(
            section=section, actor=request.user, **form.cleaned_data
        ),
        "Row added.",
    )


@require_POST
@permission_required("incidents.change_communicationplan", raise_exception=True)
def communication_plan_row_edit(request, pk, row_pk):
    plan = _plan_or_404(pk)
    row = get_object_or_404(CommunicationPlanRow, pk=row_pk, section__plan=plan)
    form = PlanRowForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("incidents:plan", pk=pk)
    return _plan_action(
        request,
        pk,
        lambda plan: services.edit_plan_row(
            row=row, actor=request.user, **form.cleaned_data
        ),
        "Row saved.",
    )


@require_POST
@permission_required("incidents.change_communicationplan", raise_exception=True)
def communication_plan_notes(request, pk, section_pk):
    plan = _plan_or_404(pk)
    section = get_object_or_404(CommunicationPlanSection, pk=section_pk, plan=plan)
    form = PlanNotesForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("incidents:plan", pk=pk)
    return _plan_action(
        request,
        pk,
        lambda plan: services.save_plan_section_notes(
            section=section, actor=request.user, notes=form.cleaned_data["notes"]
        ),
        "Notes saved.",
    )


@require_POST
@permission_required("incidents.change_communicationplan", raise_exception=True)
def communication_plan_submit(request, pk):
    return _plan_action(
        request,
        pk,
        lambda plan: services.submit_communication_plan(plan=plan, actor=request.user),
        "Plan sent for review.",
    )


@require_POST
@permission_required("incidents.approve_communicationplan", raise_exception=True)
def communication_plan_approve(request, pk):
    return _plan_action(
        request,
        pk,
        lambda plan: services.approve_communication_plan(plan=plan, actor=request.user),
        "Plan approved.",
    )


@require_POST
@permission_required("incidents.approve_communicationplan", raise_exception=True)
def communication_plan_return(request, pk):
    form = PlanReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say what needs changing.")
        return redirect("incidents:plan", pk=pk)
    return _plan_action(
        request,
        pk,
        lambda plan: services.return_communication_plan(
            plan=plan, actor=request.user, reason=form.cleaned_data["reason"]
        ),
        "Plan sent back to draft.",
    )


# --- Security incident response (issue 13 part B: seed 004) -----------------


def _response_or_404(pk: int) -> SecurityResponse:
    return get_object_or_404(
        SecurityResponse.objects.select_related("incident"), incident_id=pk
    )


@require_GET
@permission_required("incidents.view_securityresponse", raise_exception=True)
def security_response(request, pk):
    incident = get_object_or_404(Incident.objects.select_related("category"), pk=pk)
    now = timezone.now()
    context = {
        "incident": incident,
        "tabs": _incident_tabs(request, incident, "postmortem"),
        "now": now,
    }
    try:
        page = selectors.security_page(incident_id=incident.pk, now=now)
    except SecurityResponse.DoesNotExist:
        context["flag_form"] = SecurityFlagForm()
    else:
        chosen = {clock.regime_id for clock, _ in page.clocks}
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
            has_postmortem=PostMortem.objects.filter(incident=incident).exists(),
        )
    return render(request, "incidents/security_response.html", context)


def _security_action(request, pk, action, success: str):
    response = _response_or_404(pk)
    try:
        action(response)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, success)
    return redirect("incidents:security", pk=pk)


@require_POST
@permission_required("incidents.flag_security_incident", raise_exception=True)
def security_flag(request, pk):
    incident = get_object_or_404(Incident, pk=pk)
    form = SecurityFlagForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick the kind of security incident.")
        return redirect("incidents:security", pk=pk)
    try:
        services.flag_security_incident(
            incident=incident,
            actor=request.user,
            incident_type=form.cleaned_data["incident_type"],
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(
            request,
            "Flagged as a security incident: the phase clocks run from detection.",
        )
    return redirect("incidents:security", pk=pk)


@require_POST
@permission_required("incidents.change_securityresponse", raise_exception=True)
def security_notify(request, pk, notification_pk):
    response = _response_or_404(pk)
    notification = get_object_or_404(
        SecurityNotification, pk=notification_pk, response=response
    )
    form = SecurityNotifyForm(request.POST)
    how = form.cleaned_data["how"] if form.is_valid() else ""
    return _security_action(
        request,
        pk,
        lambda _: services.record_security_notification(
            notification=notification, actor=request.user, how=how
        ),
        f"{notification.label} told.",
    )


@require_POST
@permission_required("incidents.change_securityresponse", raise_exception=True)
def security_tick(request, pk, item_pk):
    response = _response_or_404(pk)
    item = get_object_or_404(
        SecurityChecklistItem, pk=item_pk, phase__response=response
    )
    done = request.POST.get("done") != "0"
    return _security_action(
        request,
        pk,
        lambda _: services.tick_security_item(item=item, actor=request.user, done=done),
        "Ticked." if done else "Unticked.",
    )


@require_POST
@permission_required("incidents.change_securityresponse", raise_exception=True)
def security_phase_done(request, pk, phase_pk):
    response = _response_or_404(pk)
    phase = get_object_or_404(SecurityPhase, pk=phase_pk, response=response)
    return _security_action(
        request,
        pk,
        lambda _: services.complete_security_phase(phase=phase, actor=request.user),
        f"{phase.get_kind_display()} phase done.",
    )


@require_POST
@permission_required("incidents.change_securityresponse", raise_exception=True)
def security_clocks(request, pk):
    form = RegulatoryClocksForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick the laws that apply from the list.")
        return redirect("incidents:security", pk=pk)
    return _security_action(
        request,
        pk,
        lambda response: services.choose_regulatory_clocks(
            response=response,
            actor=request.user,
            regimes=list(form.cleaned_data["regimes"]),
        ),
        "Regulatory clocks started.",
    )


@require_POST
@permission_required("incidents.change_securityresponse", raise_exception=True)
def security_notice_filed(request, pk, clock_pk):
    response = _response_or_404(pk)
    clock = get_object_or_404(RegulatoryClock, pk=clock_pk, response=response)
    form = RegulatoryNoticeForm(request.POST)
    reference = form.cleaned_data["reference"] if form.is_valid() else ""
    return _security_action(
        request,
        pk,
        lambda _: services.record_regulatory_notice(
            clock=clock, actor=request.user, reference=reference
        ),
        "Notice recorded.",
    )


@require_POST
@permission_required("incidents.record_legal_approval", raise_exception=True)
def security_legal_approval(request, pk):
    form = LegalApprovalForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Name the person in Legal who approved.")
        return redirect("incidents:security", pk=pk)
    return _security_action(
        request,
        pk,
        lambda response: services.record_legal_approval(
            response=response, actor=request.user, **form.cleaned_data
        ),
        "Legal's approval recorded: the security notice can be sent.",
    )


@require_POST
@permission_required("incidents.add_postmortem", raise_exception=True)
def security_lessons_learned(request, pk):
    response = _response_or_404(pk)
    try:
        services.start_lessons_learned(response=response, actor=request.user)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect("incidents:security", pk=pk)
    messages.success(request, "Lessons-learned post-mortem started.")
    return redirect("incidents:postmortem_edit", pk=pk)
