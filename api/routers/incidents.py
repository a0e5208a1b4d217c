"""Incidents: the list with the list page's filters, one incident, opening,
editing, moving its status, and its timeline."""

from typing import Any, Literal

from django.http import Http404
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from incidents import selectors as incident_selectors
from incidents import services
from incidents.forms import IncidentFilterForm, IncidentForm
from incidents.models import Category, Incident, Priority, Signal, TimelineEvent
from incidents.sla import CLOCK_STATE_LABELS

from .. import selectors, shapes
from ..auth import write_token
from ..forms import posted_values, untouched_values
from ..pagination import DEFAULT_LIMIT, MAX_LIMIT, cursor_page
from ..permissions import require
from ..problems import form_refused, problem
from ..schemas import (
    IncidentDetail,
    IncidentEditIn,
    IncidentOpenIn,
    IncidentPage,
    MoveIn,
    Problem,
    TimelinePage,
    one_of,
)

router = Router(tags=["incidents"])

READ_ERRORS = dict.fromkeys((400, 401, 403, 404, 429, 500), Problem)
WRITE_ERRORS = dict.fromkeys((400, 401, 403, 404, 409, 413, 422, 429, 500), Problem)


class IncidentListQuery(Schema):
    """The list page's filters; lists run newest first."""

    status: Literal[("open", *Incident.Status.values)] | None = Field(
        None, description="A status, or “open” for every status but closed."
    )
    priority: one_of(Priority) | None = None
    owner: int | None = Field(
        None, description="A person's id; -1 for unassigned incidents."
    )
    category: int | None = None
    sla: Literal[tuple(str(s) for s in CLOCK_STATE_LABELS)] | None = None
    tag: str | None = None
    q: str | None = Field(
        None, description="INC-00042, or words of the title, customer name or e-mail."
    )
    archived: bool = Field(False, description="Include archived incidents.")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


def incident_or_404(reference: str) -> Incident:
    incident = selectors.incident_by_reference(reference)
    if incident is None:
        raise Http404(f"No incident {reference}.")
    return incident


def _filter_form(request, params: IncidentListQuery) -> IncidentFilterForm:
    data = {
        name: str(value)
        for name, value in params.dict(exclude={"limit", "cursor"}).items()
        if value not in (None, False)
    }
    return IncidentFilterForm(
        data,
        viewer=request.user,
        staff=list(incident_selectors.assignable_staff()),
    )


@router.get("/incidents", response={200: IncidentPage, **READ_ERRORS})
def list_incidents(request, params: Query[IncidentListQuery]):
    """List incidents newest first, filtered as on the list page."""
    form = _filter_form(request, params)
    if not form.is_valid():
        return problem(
            400,
            "Some filters are not valid; see errors.",
            errors={name: list(errors) for name, errors in form.errors.items()},
            code="bad_filter",
        )
    now = timezone.now()
    matching = incident_selectors.incident_list(filters=form.filters(), now=now)
    page, next_cursor = cursor_page(
        matching,
        name="incidents",
        limit=params.limit,
        cursor=params.cursor,
        rows=selectors.incident_rows(),
    )
    return {
        "items": [shapes.incident_summary(incident, now) for incident in page],
        "next_cursor": next_cursor,
    }


@router.get("/incidents/{reference}", response={200: IncidentDetail, **READ_ERRORS})
def read_incident(request, reference: str):
    """Read one incident, by id (42) or reference (INC-00042)."""
    return shapes.incident_detail(incident_or_404(reference), timezone.now())


def _form_values(fields: dict[str, Any]) -> dict[str, Any]:
    """Return the API's fields as the incident form's page posts them."""
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "category" and isinstance(value, str) and not value.isdigit():
            value = (
                Category.objects.filter(slug=value).values_list("pk", flat=True).first()
                or value
            )
        elif name == "signal" and value:
            value = (
                Signal.objects.filter(code=value).values_list("pk", flat=True).first()
                or value
            )
        elif name == "is_service_delivered":
            value = "" if value is None else str(value).lower()
        elif name == "extra_tags":
            value = ", ".join(value)
        elif name == "severity_criteria":
            value = [str(pk) for pk in value]
        elif name == "immediate_actions":
            for n, action in enumerate(value, start=1):
                values[f"action_{n}_who"] = action["who"]
                values[f"action_{n}_what"] = action["what"]
                values[f"action_{n}_due_at"] = action.get("due_at") or ""
            continue
        values[name] = "" if value is None else value
    return values


@router.post(
    "/incidents",
    auth=write_token,
    response={201: IncidentDetail, **WRITE_ERRORS},
)
def open_incident(request, payload: IncidentOpenIn):
    """Open an incident, as the new-incident form does."""
    require(request, "incidents.add_incident")
    data = untouched_values(IncidentForm())
    data.update(_form_values(payload.dict(exclude_unset=True)))
    form = IncidentForm(data)
    if not form.is_valid():
        return form_refused(form)
    incident = services.open_incident(
        actor=request.user,
        owner=form.cleaned_data["owner"],
        extra_tags=form.cleaned_data["extra_tags"],
        immediate_actions=form.immediate_actions(),
        journey=form.journey(),
        severity_criteria=list(form.cleaned_data["severity_criteria"]),
        **form.incident_fields(),
    )
    return Status(
        201, shapes.incident_detail(incident_or_404(str(incident.pk)), timezone.now())
    )


@router.patch(
    "/incidents/{reference}",
    auth=write_token,
    response={200: IncidentDetail, **WRITE_ERRORS},
)
def edit_incident(request, reference: str, payload: IncidentEditIn):
    """Change some of an incident's details; ``version`` guards against
    overwriting someone else's change (409)."""
    require(request, "incidents.change_incident")
    incident = incident_or_404(reference)
    initial = IncidentForm.initial_for(incident, services.custom_tags(incident))
    data = posted_values(IncidentForm(initial=initial, editing=incident))
    data.update(_form_values(payload.dict(exclude_unset=True, exclude={"version"})))
    data["version"] = payload.version
    form = IncidentForm(data, initial=initial, editing=incident)
    if not form.is_valid():
        return form_refused(form)
    services.edit_incident_details(
        incident=incident,
        actor=request.user,
        expected_version=form.cleaned_data["version"],
        changes=form.incident_fields(),
        extra_tags=form.cleaned_data["extra_tags"],
        journey=form.journey(),
        severity_criteria=list(form.cleaned_data["severity_criteria"]),
    )
    return shapes.incident_detail(incident_or_404(reference), timezone.now())


@router.post(
    "/incidents/{reference}/status",
    auth=write_token,
    response={200: IncidentDetail, **WRITE_ERRORS},
)
def move_incident(request, reference: str, payload: MoveIn):
    """Move the incident to another status; closing runs the close guard."""
    require(request, "incidents.change_incident_status")
    incident = incident_or_404(reference)
    closing = payload.to in Incident.CLOSED_STATUSES
    service = services.close_incident if closing else services.move_incident
    service(
        incident=incident,
        actor=request.user,
        to_status=payload.to,
        note=payload.note,
        expected_version=payload.version,
    )
    return shapes.incident_detail(incident_or_404(reference), timezone.now())


class PageQuery(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


def incident_id_or_404(reference: str) -> int:
    pk = selectors.incident_id(reference)
    if pk is None or not Incident.objects.filter(pk=pk).exists():
        raise Http404(f"No incident {reference}.")
    return pk


@router.get(
    "/incidents/{reference}/timeline",
    response={200: TimelinePage, **READ_ERRORS},
)
def incident_timeline(request, reference: str, params: Query[PageQuery]):
    """Read the incident's history, newest first."""
    pk = incident_id_or_404(reference)
    events, next_cursor = cursor_page(
        TimelineEvent.objects.filter(incident_id=pk).select_related("actor"),
        name=f"timeline.{pk}",
        limit=params.limit,
        cursor=params.cursor,
    )
    return {
        "items": [shapes.timeline_event(event) for event in events],
        "next_cursor": next_cursor,
    }
