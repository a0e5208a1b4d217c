"""One shape for a page's POST-only action: check, act, report, redirect.

Most buttons on an incident's pages post a small form, call one service and
go back where they came from with a message. ``post_action`` is that shape,
so a view only names its form, its service call and what to say.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


def form_errors(form: Form) -> str:
    """Return a form's errors as one line, each after its field's label."""
    return " ".join(
        f"{form[name].label if name in form.fields else ''}: {error}".lstrip(": ")
        for name, errors in form.errors.items()
        for error in errors
    )


def post_action(
    request: HttpRequest,
    *,
    act: Callable[[], Any],
    success: str | Callable[[Any], str],
    back: Any,
    form: Form | None = None,
    invalid: str | None = None,
    done: Any = None,
) -> HttpResponse:
    """Run ``act`` once ``form`` (if any) is valid, then redirect with a message.

    An invalid form shows ``invalid`` (or its own errors) and runs nothing.
    A service's ValidationError shows its messages; its PermissionDenied (a
    rule about who may act, beyond the view's permission) shows its reason.
    ``back`` is where a refusal returns and ``done`` where success goes
    (``back`` unless given): anything ``redirect()`` takes. ``success`` is the
    message, or a function of the service's result that returns it.
    """
    if form is not None and not form.is_valid():
        messages.error(request, invalid or form_errors(form))
        return redirect(back)
    try:
        result = act()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(request, success(result) if callable(success) else success)
    return redirect(done if done is not None else back)
