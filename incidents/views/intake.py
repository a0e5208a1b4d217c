"""The incident list, opening an incident, and the customer search behind it."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from portal.jinja2 import render_body

from .. import selectors, services
from ..forms import (
    IncidentFilterForm,
    IncidentForm,
)
from ..pagination import CappedCountPaginator

PAGE_SIZE = 25


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
    context = {
        "filter_form": filter_form,
        "page": page,
        "rows": rows,
        "query_string": query.urlencode(),
        # Looked up once: a permission check in each row would cost per row.
        "can_assign": request.user.has_perm("incidents.assign_incident"),
        "is_filtered": any(v for k, v in request.GET.items() if k != "page"),
    }
    context["body"] = render_body(
        request, "incidents/incident_list_body.jinja", context
    )
    return render(request, "incidents/incident_list.html", context)


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
