"""Escalation pages: the incident's tab, the escalate form, tier queues and
the managers' approvals."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents import lifecycle
from incidents.models import Incident
from incidents.pagination import CappedCountPaginator
from portal.actions import (
    AlreadyDone,
    already_done,
    claim_form_key,
    note_form_done,
    post_action,
)
from portal.jinja2 import render_body

from .. import selectors, services
from ..forms.routing import (
    EscalateForm,
    OutcomeForm,
    QueueFilterForm,
    ReasonForm,
    TrackerKeyForm,
    path_field_name,
)
from ..models import PATH_FIELDS, BugReport, Escalation, Tier

QUEUE_PAGE_SIZE = 25


def _incident(pk):
    return get_object_or_404(
        Incident.objects.select_related("customer", "category", "policy", "owner"),
        pk=pk,
    )


@require_GET
@permission_required("escalations.view_escalation", raise_exception=True)
def incident_escalations(request, pk):
    incident = _incident(pk)
    escalations = list(selectors.incident_escalations(incident))
    return render(
        request,
        "escalations/incident_escalations.html",
        {
            "incident": incident,
            "escalations": escalations,
            "open_escalations": [e for e in escalations if e.is_open],
            "my_tier_ids": set(
                selectors.tiers_of(request.user).values_list("pk", flat=True)
            ),
            "tracker_form": TrackerKeyForm(),
        },
    )


def _attach_service_errors(form: EscalateForm, exc: ValidationError, path: str):
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    path_names = {spec.name for spec in PATH_FIELDS.get(path, ())}
    for field, errors in exc.error_dict.items():
        target = field
        if field in path_names:
            target = path_field_name(path, field)
        if target not in form.fields:
            target = None
        for error in errors:
            form.add_error(target, error)


@require_http_methods(["GET", "POST"])
@permission_required("escalations.request_escalation", raise_exception=True)
def escalate(request, pk):
    incident = _incident(pk)
    checks = list(selectors.pre_escalation_checks(incident.policy_id))
    if request.method == "POST":
        form = EscalateForm(request.POST, incident=incident, checks=checks)
    else:
        form = EscalateForm(incident=incident, checks=checks)
    wants_rules_only = request.POST.get("action") == "check_rules"
    flags, refund, rejections = [], None, 0
    if request.method == "POST" and form.is_valid():
        args = form.service_arguments() if form.cleaned_data.get("path") else None
        flags = form.cleaned_data.get("flags") or []
        refund = form.cleaned_data.get("refund_amount")
        rejections = form.cleaned_data.get("port_in_rejections") or 0
        if args and not wants_rules_only:
            done_url = reverse("escalations:incident_escalations", args=[incident.pk])
            try:
                with transaction.atomic():
                    submission = claim_form_key(request)
                    created = services.request_escalation(
                        incident=incident, actor=request.user, **args
                    )
                    note_form_done(submission, done_url)
            except AlreadyDone as exc:
                return already_done(request, exc, done_url)
            except ValidationError as exc:
                _attach_service_errors(form, exc, args["path"])
            except PermissionDenied as exc:
                messages.error(request, str(exc) or "You may not escalate.")
            else:
                names = ", ".join(e.to_tier.name for e in created)
                if any(e.needs_approval for e in created):
                    messages.success(
                        request,
                        f"Escalation to {names} requested; it waits for a "
                        "manager's approval.",
                    )
                else:
                    messages.success(
                        request, f"Escalated to {names}; the tier sees it now."
                    )
                return redirect("escalations:incident_escalations", pk=incident.pk)
        elif not args and not wants_rules_only:
            form.add_error("path", "Pick an escalation path.")
    elif request.method == "POST" and form.is_bound:
        # Checking the rules before a path is picked: what was typed still
        # counts (the numbers too), though the note is not complete yet.
        flags = form.cleaned_data.get("flags") or request.POST.getlist("flags")
        refund = form.cleaned_data.get("refund_amount")
        rejections = form.cleaned_data.get("port_in_rejections") or 0
    matches = selectors.matching_rules(
        incident=incident,
        flags=flags,
        refund_amount=refund,
        port_in_rejections=rejections,
    )
    if not form.is_bound or wants_rules_only:
        suggested = {t.pk for m in matches for t in m.tiers}
        if not form.is_bound:
            form.initial["tiers"] = list(suggested)
            # What the incident's record already says (a security incident).
            form.initial["flags"] = sorted(selectors.implied_flags(incident))
            paths = [t.default_path for m in matches for t in m.tiers if t.default_path]
            if paths:
                form.initial["path"] = paths[0]
        else:
            form.data = form.data.copy()
            form.data.setlist(
                "tiers",
                sorted({*form.data.getlist("tiers"), *(str(pk) for pk in suggested)}),
            )
    return render(
        request,
        "escalations/escalate.html",
        {
            "incident": incident,
            "form": form,
            "matches": matches,
            "tier_help": {t.pk: t for t in form.fields["tiers"].queryset},
            "customer_notices": selectors.customer_notice_previews(
                incident, actor=request.user
            ),
        },
    )


@require_GET
@permission_required("escalations.view_escalation", raise_exception=True)
def tier_list(request):
    tiers = (
        Tier.objects.filter(is_active=True)
        .select_related("policy")
        .annotate(
            waiting=Count(
                "escalations_in",
                filter=Q(
                    escalations_in__status__in=["requested", "approved"],
                    escalations_in__reached_tier_at__isnull=False,
                ),
            )
        )
        .order_by("policy__name", "position")
    )
    mine = set(selectors.tiers_of(request.user).values_list("pk", flat=True))
    return render(
        request, "escalations/tier_list.html", {"tiers": tiers, "my_tier_ids": mine}
    )


@require_GET
@permission_required("escalations.view_escalation", raise_exception=True)
def tier_queue(request, pk):
    tier = get_object_or_404(Tier.objects.select_related("policy"), pk=pk)
    filters = QueueFilterForm(request.GET or None)
    urgency = filters.cleaned_data["urgency"] if filters.is_valid() else ""
    queue = selectors.tier_queue(tier=tier, urgency=urgency)
    page = CappedCountPaginator(queue, QUEUE_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    now = timezone.now()
    # A resolved incident's escalation stays for the tier to read, but its
    # clock stops: nothing is due from the tier any more.
    rows = [
        (
            e,
            (e.ack_due_at - now)
            if e.ack_due_at
            and e.is_waiting_for_tier
            and lifecycle.runs("escalation_reminders", e.incident.status)
            else None,
        )
        for e in page.object_list
    ]
    context = {
        "tier": tier,
        "rows": rows,
        "page": page,
        "filters": filters,
        "urgency": urgency,
        "is_member": selectors.is_tier_member(request.user, tier),
    }
    context["body"] = render_body(request, "escalations/tier_queue_body.jinja", context)
    return render(request, "escalations/tier_queue.html", context)


def _escalation(pk) -> Escalation:
    return get_object_or_404(
        Escalation.objects.select_related("incident", "to_tier"), pk=pk
    )


def _next(request, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target.startswith("/") and not target.startswith("//"):
        return target
    return fallback


def _queue(request, escalation: Escalation) -> str:
    return _next(
        request, reverse("escalations:tier_queue", args=[escalation.to_tier_id])
    )


@require_POST
@permission_required("escalations.work_escalation", raise_exception=True)
def escalation_acknowledge(request, pk):
    escalation = _escalation(pk)
    return post_action(
        request,
        act=lambda: services.acknowledge_escalation(
            escalation=escalation, actor=request.user
        ),
        success="Acknowledged: it is yours now.",
        back=_queue(request, escalation),
    )


@require_POST
@permission_required("escalations.work_escalation", raise_exception=True)
def escalation_return(request, pk):
    escalation = _escalation(pk)
    form = ReasonForm(request.POST)
    return post_action(
        request,
        form=form,
        invalid="Say why it goes back to the sender.",
        act=lambda: services.return_escalation(
            escalation=escalation,
            actor=request.user,
            reason=form.cleaned_data["reason"],
        ),
        success="Returned to the sender with your reason.",
        back=_queue(request, escalation),
    )


@require_POST
@permission_required("escalations.work_escalation", raise_exception=True)
def escalation_resolve(request, pk):
    escalation = _escalation(pk)
    form = OutcomeForm(request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.resolve_escalation(
            escalation=escalation,
            actor=request.user,
            outcome=form.cleaned_data["outcome"],
        ),
        success="Resolved.",
        back=_queue(request, escalation),
    )


@require_GET
@permission_required("escalations.approve_escalation", raise_exception=True)
def approvals(request):
    queue = selectors.escalation_approvals()
    page = CappedCountPaginator(queue, QUEUE_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = list(page.object_list)
    matched = selectors.rules_matched_on_request(rows)
    for escalation in rows:
        escalation.rules_matched = matched.get(escalation.pk, [])
    context = {"page": page, "rows": rows}
    context["body"] = render_body(request, "escalations/approvals_body.jinja", context)
    return render(request, "escalations/approvals.html", context)


@require_POST
@permission_required("escalations.approve_escalation", raise_exception=True)
def escalation_approve(request, pk):
    escalation = _escalation(pk)
    return post_action(
        request,
        act=lambda: services.approve_escalation(
            escalation=escalation, actor=request.user
        ),
        success="Approved: the tier sees it now.",
        back="escalations:approvals",
    )


@require_POST
@permission_required("escalations.approve_escalation", raise_exception=True)
def escalation_reject(request, pk):
    escalation = _escalation(pk)
    form = ReasonForm(request.POST)
    return post_action(
        request,
        form=form,
        invalid="Say why the escalation is rejected.",
        act=lambda: services.reject_escalation(
            escalation=escalation,
            actor=request.user,
            reason=form.cleaned_data["reason"],
        ),
        success="Rejected; the requester sees your reason on the incident.",
        back="escalations:approvals",
    )


@require_POST
@permission_required("escalations.request_escalation", raise_exception=True)
def bug_report_tracker_key(request, pk):
    report = get_object_or_404(BugReport.objects.select_related("escalation"), pk=pk)
    form = TrackerKeyForm(request.POST)
    return post_action(
        request,
        form=form,
        invalid="Give the tracker key, e.g. FLEET-5678.",
        act=lambda: services.record_tracker_key(
            bug_report=report,
            actor=request.user,
            tracker_key=form.cleaned_data["tracker_key"],
        ),
        success="Tracker key saved.",
        back=reverse(
            "escalations:incident_escalations", args=[report.escalation.incident_id]
        ),
    )
