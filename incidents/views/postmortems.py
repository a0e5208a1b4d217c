"""Post-mortems: the page, the editor, review and publishing, print, the list."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.actions import post_action

from .. import selectors, services
from ..forms import (
    PostMortemActionForm,
    PostMortemForm,
    PostMortemReturnForm,
    PostMortemRowForm,
    PostMortemSearchForm,
    PostMortemStartForm,
)
from ..models import (
    Incident,
    PostMortem,
    PostMortemTimelineRow,
)
from ..pagination import CappedCountPaginator
from .lifecycle import incident_tabs

POSTMORTEM_PAGE_SIZE = 25


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
        "tabs": incident_tabs(request, incident, "postmortem"),
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
    return post_action(
        request,
        form=form,
        invalid="Give the meeting date as a date, or leave it empty.",
        act=lambda: services.start_postmortem(
            incident=incident,
            actor=request.user,
            scheduled_on=form.cleaned_data["scheduled_on"],
        ),
        success="Post-mortem started; its timeline is written below.",
        back=reverse("incidents:postmortem", args=[pk]),
        done=reverse("incidents:postmortem_edit", args=[pk]),
    )


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
            "tabs": incident_tabs(request, page.postmortem.incident, "postmortem"),
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
    return post_action(
        request,
        form=form,
        invalid="A row needs a time and what happened.",
        act=lambda: services.edit_postmortem_row(
            row=row, actor=request.user, **form.cleaned_data
        ),
        success="Timeline row saved.",
        back=reverse("incidents:postmortem_edit", args=[pk]),
    )


@require_POST
@permission_required("incidents.change_postmortem", raise_exception=True)
def postmortem_row_hide(request, pk, row_pk):
    postmortem = _postmortem_or_404(pk)
    row = get_object_or_404(PostMortemTimelineRow, pk=row_pk, postmortem=postmortem)
    hidden = request.POST.get("hidden") != "0"
    return post_action(
        request,
        act=lambda: services.hide_postmortem_row(
            row=row, actor=request.user, hidden=hidden
        ),
        success="Row hidden." if hidden else "Row shown again.",
        back=reverse("incidents:postmortem_edit", args=[pk]),
    )


@require_POST
@permission_required("incidents.change_postmortem", raise_exception=True)
def postmortem_refresh(request, pk):
    postmortem = _postmortem_or_404(pk)
    return post_action(
        request,
        act=lambda: services.refresh_postmortem_timeline(
            postmortem=postmortem, actor=request.user
        ),
        success=lambda rows: (
            f"{len(rows)} new moment{'s' if len(rows) != 1 else ''} added."
            if rows
            else "The timeline already has every moment the incident reached."
        ),
        back=reverse("incidents:postmortem_edit", args=[pk]),
    )


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
    return post_action(
        request,
        act=lambda: services.submit_postmortem_for_review(
            postmortem=postmortem, actor=request.user
        ),
        success="Sent for review.",
        back=postmortem,
    )


@require_POST
@permission_required("incidents.publish_postmortem", raise_exception=True)
def postmortem_return(request, pk):
    postmortem = _postmortem_or_404(pk)
    form = PostMortemReturnForm(request.POST)
    return post_action(
        request,
        form=form,
        invalid="Say what needs changing.",
        act=lambda: services.return_postmortem_to_draft(
            postmortem=postmortem, actor=request.user, **form.cleaned_data
        ),
        success="Sent back to draft.",
        back=postmortem,
    )


@require_POST
@permission_required("incidents.publish_postmortem", raise_exception=True)
def postmortem_publish(request, pk):
    postmortem = _postmortem_or_404(pk)
    return post_action(
        request,
        act=lambda: services.publish_postmortem(
            postmortem=postmortem, actor=request.user
        ),
        success="Post-mortem published.",
        back=postmortem,
    )


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
