"""Publishing an incident on a status page, from the incident's Status
page tab: what is up, what waits for approval, and the next post."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from comms.models import Message
from incidents.models import Incident, Priority
from incidents.views.lifecycle import incident_tabs

from .. import services
from ..models import Impact, PublicStatus
from ..selectors.staff import pages_for_incident
from ..staff_forms import PublishForm

SUGGESTED_IMPACT = {
    Priority.P1: Impact.MAJOR_OUTAGE,
    Priority.P2: Impact.PARTIAL_OUTAGE,
}


def _initial(incident: Incident, entry, resolved: bool) -> dict:
    publication = entry.publication
    if publication is not None:
        components = list(publication.components.all())
    else:
        components = [
            c
            for c in entry.components
            if any(cat.pk == incident.category_id for cat in c.categories.all())
        ]
    impact = (
        publication.impact
        if publication is not None and publication.is_open
        else SUGGESTED_IMPACT.get(incident.priority, Impact.DEGRADED)
    )
    if resolved:
        body = incident.fix_summary.strip() or (
            "We have fixed the problem, and everything works as usual again."
        )
    else:
        body = incident.customer_summary.strip() or (
            "We are looking into reports of problems and will post again here "
            "as we learn more."
        )
    names = ", ".join(c.name for c in components)
    return {
        "components": components,
        "impact": impact,
        "status": PublicStatus.RESOLVED
        if resolved
        else (
            publication.status
            if publication is not None and publication.is_open
            else PublicStatus.INVESTIGATING
        ),
        "title": publication.title
        if publication is not None
        else (f"{names}: {Impact(impact).label.lower()}" if names else ""),
        "body": body,
    }


@require_http_methods(["GET", "POST"])
@permission_required("comms.view_message", raise_exception=True)
def publish(request, pk):
    incident = get_object_or_404(
        Incident.objects.select_related("policy", "category"), pk=pk
    )
    entries = pages_for_incident(incident)
    wanted = request.POST.get("page") or request.GET.get("page")
    entry = next((e for e in entries if e.page.slug == wanted), None) or (
        entries[0] if entries and not wanted else None
    )
    if wanted and entry is None:
        # A page taken off line, or a slug edited by hand: never post to
        # another page than the one asked for.
        raise Http404("No live status page by that name.")
    resolved = incident.status in (
        Incident.Status.RESOLVED,
        *Incident.CLOSED_STATUSES,
    )
    form = None
    if entry is not None:
        form = PublishForm(
            request.POST or None,
            initial=_initial(incident, entry, resolved),
            components=entry.page.components.filter(is_active=True),
            resolved=resolved,
        )
    if request.method == "POST" and form is not None:
        if not request.user.has_perm("comms.send_message"):
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                update = services.publish_from_incident(
                    incident=incident,
                    actor=request.user,
                    page=entry.page,
                    components=list(data["components"]),
                    impact=data.get("impact", Impact.OPERATIONAL),
                    status=data["status"],
                    title=data["title"],
                    body=data["body"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                if update.message.status == Message.Status.AWAITING_APPROVAL:
                    messages.info(
                        request,
                        f"Sent for approval: it goes up on {entry.page.name} once "
                        "a manager approves it.",
                    )
                else:
                    messages.success(request, f"Going up on {entry.page.name} now.")
                return redirect(
                    reverse("statuspage:publish", args=[incident.pk])
                    + f"?page={entry.page.slug}"
                )
    return render(
        request,
        "statuspage/incident_status_page.html",
        {
            "incident": incident,
            "tabs": incident_tabs(request, incident, "status_page"),
            "entries": entries,
            "entry": entry,
            "form": form,
            "resolved": resolved,
            # A closed incident may only still resolve what the page shows.
            "closed_and_done": incident.status in Incident.CLOSED_STATUSES
            and not (
                entry is not None
                and entry.publication is not None
                and entry.publication.is_open
            ),
            "publishable": incident.is_systemic
            or incident.priority in services.PUBLISHABLE_PRIORITIES
            or (entry is not None and entry.publication is not None),
        },
        status=400 if form is not None and form.errors else 200,
    )
