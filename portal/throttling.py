import math

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.shortcuts import render


def locked_out(request, original_response=None, credentials=None):
    """Render the sign-in page again, saying that sign-in is locked (429)."""
    cool_off = get_cool_off(request)
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "locked_out": True,
        "cool_off_minutes": math.ceil(cool_off.total_seconds() / 60)
        if cool_off
        else None,
        "next": request.POST.get("next") or request.GET.get("next", ""),
    }
    return render(
        request,
        "registration/login.html",
        context,
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )


# The longest username a person can have; AccessAttempt keeps 255 characters.
USERNAME_MAX_LENGTH = 150


def username_for_throttling(request, credentials=None) -> str:
    """Return the username a sign-in attempt is counted under.

    Cut to a length a real username can have, and without NUL: django-axes
    stores it, and PostgreSQL refuses a longer text or a NUL with an error.
    """
    if credentials:
        username = credentials.get("username")
    else:
        username = request.POST.get("username")
    return str(username or "").replace("\x00", "")[:USERNAME_MAX_LENGTH]


def client_ip(request) -> str | None:
    """Return the address a sign-in comes from, for the lockout.

    Behind TRUSTED_PROXY_COUNT proxies (0 by default: none) the client is
    the address the outermost of them added to X-Forwarded-For, counted
    from the right, since anything to its left the client may have
    written itself. Without that header (or with no proxy set) it is the
    connection's own address.
    """
    count = settings.TRUSTED_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR")
    if count <= 0:
        return remote
    forwarded = [
        hop.strip()
        for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if hop.strip()
    ]
    if len(forwarded) < count:
        return remote
    return forwarded[-count]
