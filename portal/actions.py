"""One shape for a page's POST-only action: check, act, report, redirect.

Most buttons on an incident's pages post a small form, call one service and
go back where they came from with a message. ``post_action`` is that shape,
so a view only names its form, its service call and what to say.
"""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from .models import FormSubmission


def form_errors(form: Form) -> str:
    """Return a form's errors as one line, each after its field's label (a
    hidden field's error speaks for itself)."""
    return " ".join(
        f"{_label(form, name)}: {error}".lstrip(": ")
        for name, errors in form.errors.items()
        for error in errors
    )


def _label(form: Form, name: str) -> str:
    if name not in form.fields or form.fields[name].widget.is_hidden:
        return ""
    return str(form[name].label)


def refusal(form: Form, plain: str | None) -> str:
    """What to tell someone whose form was refused.

    ``plain`` is the view's sentence for the usual slip ("Say why…", "Pick
    one from the list"). A problem it does not describe (text too long, a
    number out of range, a page out of date) is named as it is, so the
    message never blames the wrong thing.
    """
    unusual = any(
        name not in form.fields
        or form.fields[name].widget.is_hidden
        or error.code in _SIZE_CODES
        for name, errors in form.errors.as_data().items()
        for error in errors
    )
    return plain if plain and not unusual else form_errors(form)


_SIZE_CODES = {"max_length", "min_length", "max_value", "min_value"}


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

    An invalid form runs nothing and shows ``invalid`` when a field was
    left empty, else its own errors.
    A service's ValidationError shows its messages; its PermissionDenied (a
    rule about who may act, beyond the view's permission) shows its reason.
    ``back`` is where a refusal returns and ``done`` where success goes
    (``back`` unless given): anything ``redirect()`` takes. ``success`` is the
    message, or a function of the service's result that returns it.
    """
    if form is not None and not form.is_valid():
        messages.error(request, refusal(form, invalid))
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


# The hidden field a form posts its one-time key in ({% form_key %}).
FORM_KEY_FIELD = "form_key"


class AlreadyDone(Exception):
    """This rendered form was acted on already; ``done_url`` is where it led."""

    def __init__(self, done_url: str):
        super().__init__(done_url)
        self.done_url = done_url


def claim_form_key(request: HttpRequest) -> FormSubmission | None:
    """Take the posted form's one-time key, inside the caller's transaction.

    Raise AlreadyDone when an earlier post of the same rendered form took it
    (a double click, a second tab, a retry): the caller says so instead of
    acting twice. Two posts at once wait on the key's unique index, so one
    acts and the other finds it taken. A post without a key (an older page)
    is not protected, and acts.
    """
    key = request.POST.get(FORM_KEY_FIELD, "").strip()
    if not key or len(key) > 64:
        return None
    try:
        with transaction.atomic():
            return FormSubmission.objects.create(key=key, user=request.user)
    except IntegrityError:
        earlier = FormSubmission.objects.filter(key=key).first()
        raise AlreadyDone(earlier.done_url if earlier else "") from None


def note_form_done(submission: FormSubmission | None, url: str) -> None:
    """Remember where the first post of a form led, for a second one."""
    if submission is not None:
        submission.done_url = url[:300]
        submission.save(update_fields=["done_url"])


def already_done(request: HttpRequest, exc: AlreadyDone, fallback: str):
    """Tell the person their second post changed nothing, and go where the
    first one led."""
    messages.info(
        request, "That form was already sent once; nothing was done a second time."
    )
    return redirect(exc.done_url or fallback)
