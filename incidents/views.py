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
    MoveForm,
    RecurrenceForm,
    ReopenForm,
    ResolveForm,
    SurveyForm,
    TakeForm,
    TimeZoneForm,
)
from .lifecycle import REOPENABLE
from .models import (
    ActionItem,
    Incident,
    IncidentChecklistItem,
    ResolutionVerification,
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
    if surveys.read_survey_token(token) is None:
        return render(
            request, "incidents/survey_closed.html", {"reason": "bad_link"}, status=404
        )
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
