"""Credit pages: an incident's credits, the decision queue, finance's export."""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from comms.models import Message
from incidents.models import Customer, Incident
from incidents.selectors import incident_clocks, overall_clock_state
from incidents.sla import CLOCK_STATE_LABELS
from portal.actions import (
    AlreadyDone,
    already_done,
    claim_form_key,
    note_form_done,
    post_action,
)
from portal.exports import csv_export

from .. import selectors, services
from ..forms.credits import (
    ApplyForm,
    CancelForm,
    CreditRequestForm,
    DecisionForm,
    ExportForm,
)
from ..models import CreditPolicy, CreditRequest

PAGE_SIZE = 25


def _incident(pk) -> Incident:
    return get_object_or_404(
        Incident.objects.select_related("customer", "policy", "category"), pk=pk
    )


def _request_form(incident: Incident, data=None) -> CreditRequestForm:
    rules = CreditPolicy.objects.filter(policy_id=incident.policy_id).first()
    customer_ids = set(
        incident.affected_customers.values_list("customer_id", flat=True)
    )
    if incident.customer_id:
        customer_ids.add(incident.customer_id)
    return CreditRequestForm(
        data,
        incident=incident,
        customers=Customer.objects.filter(pk__in=customer_ids),
        messages=Message.objects.filter(incident=incident).order_by("-created_at"),
        currency=rules.currency if rules else "USD",
    )


def _sla_label(incident: Incident, now: dt.datetime) -> str:
    return CLOCK_STATE_LABELS[overall_clock_state(incident_clocks(incident, now))]


@require_http_methods(["GET", "POST"])
@permission_required("escalations.view_creditrequest", raise_exception=True)
def incident_credits(request, pk):
    incident = _incident(pk)
    form = None
    if request.method == "POST":
        if not request.user.has_perm("escalations.request_credit"):
            raise PermissionDenied("Your role may not ask for credits.")
        form = _request_form(incident, request.POST)
        if form.is_valid():
            done_url = reverse("escalations:incident_credits", args=[incident.pk])
            try:
                with transaction.atomic():
                    submission = claim_form_key(request)
                    services.request_credit(
                        incident=incident, actor=request.user, **form.cleaned_data
                    )
                    note_form_done(submission, done_url)
            except AlreadyDone as exc:
                return already_done(request, exc, done_url)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(
                    request,
                    "Credit requested; it waits for someone whose limit covers it.",
                )
                return redirect("escalations:incident_credits", pk=incident.pk)
    elif request.user.has_perm("escalations.request_credit") and incident.is_open:
        form = _request_form(incident)
    page = Paginator(selectors.incident_credits(incident), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    # Which listed requests this person may decide (one query): the buttons
    # show only where the service would agree.
    decidable = set()
    if request.user.has_perm("escalations.decide_credit"):
        decidable = set(
            CreditRequest.objects.filter(
                selectors.decidable_by(request.user),
                pk__in=[credit.pk for credit in page if credit.is_open],
            )
            .exclude(requested_by=request.user)
            .values_list("pk", flat=True)
        )
    context = {
        "incident": incident,
        "page": page,
        "decidable": decidable,
        "form": form,
        "decision_form": DecisionForm(),
        "here": request.get_full_path(),
    }
    return render(
        request,
        "escalations/credit_list.html",
        context,
        status=400 if form is not None and form.errors else 200,
    )


@require_GET
@permission_required("escalations.decide_credit", raise_exception=True)
def credit_queue(request):
    now = timezone.now()
    page = Paginator(selectors.credits_to_decide(request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [(credit, _sla_label(credit.incident, now)) for credit in page]
    to_apply = None
    if request.user.has_perm("escalations.apply_credit"):
        to_apply = Paginator(selectors.credits_to_apply(), PAGE_SIZE).get_page(
            request.GET.get("apply_page")
        )
    return render(
        request,
        "escalations/credit_queue.html",
        {
            "page": page,
            "rows": rows,
            "to_apply": to_apply,
            "export_form": ExportForm(initial={"month": f"{now:%Y-%m}"}),
            "here": request.get_full_path(),
        },
    )


def _next(request) -> str:
    target = request.POST.get("next", "")
    # A path on this site only: redirect() would take other text (``2026``)
    # for the name of a view and fail to find it.
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("escalations:credit_queue")


def _credit(credit_pk) -> CreditRequest:
    return get_object_or_404(CreditRequest, pk=credit_pk)


def _invalid(form) -> str:
    """Each of a form's errors, without its field's label (one field a form)."""
    return " ".join(error for errors in form.errors.values() for error in errors)


def _approved(credit: CreditRequest) -> str:
    text = (
        f"Approved {credit.amount:,.2f} {credit.currency} for {credit.customer.name}."
    )
    message = credit.customer_message
    if message is None:
        return text
    if message.status == Message.Status.AWAITING_APPROVAL:
        return text + " The customer's message waits for another manager's approval."
    return text + " The customer is being told."


@require_POST
@permission_required("escalations.decide_credit", raise_exception=True)
def credit_approve(request, credit_pk):
    credit = _credit(credit_pk)
    form = DecisionForm(request.POST)
    approved = {}  # the service's credit, to warn after the success message
    response = post_action(
        request,
        form=form,
        invalid=_invalid(form),
        act=lambda: approved.setdefault(
            "credit",
            services.approve_credit(
                credit=credit, actor=request.user, reason=form.cleaned_data["reason"]
            ),
        ),
        success=_approved,
        back=_next(request),
    )
    problem = getattr(approved.get("credit"), "customer_message_problem", "")
    if problem:
        messages.warning(request, problem)
    return response


@require_POST
@permission_required("escalations.decide_credit", raise_exception=True)
def credit_reject(request, credit_pk):
    credit = _credit(credit_pk)
    form = DecisionForm(request.POST)
    return post_action(
        request,
        form=form,
        invalid=_invalid(form),
        act=lambda: services.reject_credit(
            credit=credit, actor=request.user, reason=form.cleaned_data["reason"]
        ),
        success="Rejected; the requester sees your reason on the incident.",
        back=_next(request),
    )


@require_POST
@permission_required("escalations.apply_credit", raise_exception=True)
def credit_apply(request, credit_pk):
    credit = _credit(credit_pk)
    form = ApplyForm(request.POST)
    return post_action(
        request,
        form=form,
        invalid=_invalid(form),
        act=lambda: services.apply_credit(
            credit=credit,
            actor=request.user,
            billing_reference=form.cleaned_data["billing_reference"],
        ),
        success=lambda applied: f"Recorded as applied ({applied.billing_reference}).",
        back=_next(request),
    )


@require_POST
@permission_required("escalations.request_credit", raise_exception=True)
def credit_cancel(request, credit_pk):
    credit = _credit(credit_pk)
    form = CancelForm(request.POST)
    return post_action(
        request,
        form=form,
        invalid=_invalid(form),
        act=lambda: services.cancel_credit(
            credit=credit, actor=request.user, reason=form.cleaned_data["reason"]
        ),
        success="Cancelled.",
        back=_next(request),
    )


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


def _stamp(moment) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


EXPORT_COLUMNS = [
    "credit",
    "incident",
    "customer",
    "account",
    "kind",
    "amount",
    "currency",
    "status",
    "requested_by",
    "requested_at",
    "decided_by",
    "decided_at",
    "billing_reference",
    "applied_by",
    "applied_at",
    "reason",
]


@require_GET
@permission_required("escalations.export_credits", raise_exception=True)
def credit_export(request):
    form = ExportForm(request.GET)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect("escalations:credit_queue")
    first = form.cleaned_data["month"]
    start = dt.datetime(first.year, first.month, 1, tzinfo=dt.UTC)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    basis = form.cleaned_data["basis"]
    credits = selectors.credits_between(start, end, basis=basis)
    response, writer = csv_export(f"credits-{basis}-{first:%Y-%m}.csv")
    writer.writerow(EXPORT_COLUMNS)
    for credit in credits.iterator(chunk_size=500):
        writer.writerow(
            [
                str(v) if v is not None else ""
                for v in (
                    credit.pk,
                    credit.incident.reference,
                    credit.customer.name,
                    credit.customer.account_id,
                    credit.get_kind_display(),
                    f"{credit.amount:.2f}",
                    credit.currency,
                    credit.get_status_display(),
                    _name(credit.requested_by),
                    _stamp(credit.requested_at),
                    _name(credit.decided_by),
                    _stamp(credit.decided_at),
                    credit.billing_reference,
                    _name(credit.applied_by),
                    _stamp(credit.applied_at),
                    credit.reason,
                )
            ]
        )
    return response
