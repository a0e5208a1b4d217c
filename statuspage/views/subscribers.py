"""Subscribing by e-mail: double opt-in, one-click unsubscribe.

Every valid subscription gets the same answer, so the page never tells
whether an address is subscribed. Confirming and unsubscribing are a GET
showing one button and a POST doing it: mail scanners open links, and must
not confirm or unsubscribe anyone by doing so.
"""

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from portal.forms import error_codes
from portal.throttling import client_ip

from ..forms import SubscribeForm
from ..models import StatusPage
from ..services import subscribers as services
from . import public


def _page(request, page, template, status=200, **context):
    """Render one of these pages inside the public page's frame."""
    urls = public._urls(public.page_base(request, page))
    return render(
        request,
        f"statuspage/public/{template}",
        {"page": page, "urls": urls, **context},
        status=status,
    )


def _bad_link(request, page):
    return _page(request, page, "subscribe_bad_link.html", status=404)


def _form_page(request, page, form, status=200):
    return _page(request, page, "subscribe_form.html", status, subscribe_form=form)


@login_not_required
@require_http_methods(["GET", "POST"])
def subscribe(request, slug):
    page = get_object_or_404(StatusPage, slug=slug, is_live=True)
    if request.method == "GET":
        if "sent" in request.GET:
            return _page(request, page, "subscribe_sent.html")
        # Prefilled from the public page's plain GET form, which carries no
        # CSRF token and so can be cached for every visitor.
        initial = {
            "email": request.GET.get("email", "")[:254],
            "components": [
                pk for pk in request.GET.getlist("components") if pk.isdigit()
            ][:100],
        }
        return _form_page(request, page, SubscribeForm(page=page, initial=initial))
    form = SubscribeForm(request.POST, page=page)
    if not form.is_valid():
        return _form_page(request, page, form, status=400)
    try:
        services.subscribe(
            page=page,
            email=form.cleaned_data["email"],
            components=list(form.cleaned_data.get("components") or []),
            client_ip=client_ip(request),
            base_url=request.build_absolute_uri("/"),
        )
    except ValidationError as exc:
        if "throttled" not in error_codes(exc):
            form.add_error(None, exc)
            return _form_page(request, page, form, status=400)
        response = _page(request, page, "subscribe_throttled.html", status=429)
        response["Retry-After"] = "3600"
        return response
    # The same answer whether the address was new, waiting, subscribed or
    # gone: the e-mail alone says which.
    return redirect(reverse("statuspage:subscribe", args=[page.slug]) + "?sent")


@login_not_required
@require_http_methods(["GET", "POST"])
def confirm(request, slug, token):
    page = get_object_or_404(StatusPage, slug=slug, is_live=True)
    target = services.confirm_link_target(page=page, token=token)
    if target is None:
        return _bad_link(request, page)
    subscriber, components = target
    if request.method == "POST":
        services.confirm_subscription(subscriber=subscriber, components=components)
        return redirect(request.path + "?done")
    return _page(
        request,
        page,
        "confirm.html",
        email=subscriber.email,
        components=[c.name for c in components],
        done="done" in request.GET and subscriber.is_active,
    )


# A mail provider's RFC 8058 one-click POST carries no CSRF token; this view
# only ever unsubscribes the subscriber its signed link names.
@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def unsubscribe(request, slug, token):
    # Leaving works even once a page is no longer live.
    page = get_object_or_404(StatusPage, slug=slug)
    subscriber = services.unsubscribe_link_target(page=page, token=token)
    if subscriber is None:
        return _bad_link(request, page)
    if request.method == "POST":
        # Answered in place, not redirected: the one-click POST wants a 2xx,
        # and repeating it changes nothing.
        subscriber = services.unsubscribe(subscriber=subscriber)
    return _page(
        request,
        page,
        "unsubscribe.html",
        email=subscriber.email,
        done=subscriber.unsubscribed_at is not None,
    )
