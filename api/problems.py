"""Every error the API answers, as an RFC 9457 problem: JSON, never a page.

A problem is ``{"type", "title", "status", "detail"}``, plus ``errors``
(field → messages) when fields were refused and ``code`` (the service's
error code, e.g. ``stale``) when there is one. Statuses:

- 400: the request is not what the schema says (not JSON, wrong types,
  unknown or missing fields, a garbled cursor);
- 401: no token, or one that is unknown, revoked or expired;
- 403: the token's scope or the person's role does not allow it;
- 404: no such record, or no such URL under /api/v1/;
- 405, 413: wrong method, body too big;
- 409: someone changed the record since the given ``version``;
- 422: well-formed, but the portal's rules refused it (the same
  ``ValidationError`` a page shows on its form);
- 429: over the token's requests per minute (``Retry-After`` says when);
- 500: a fault of ours, logged; the answer says nothing more.
"""

import json
import logging
from http import HTTPStatus

from django.core.exceptions import (
    NON_FIELD_ERRORS,
    ObjectDoesNotExist,
    PermissionDenied,
    ValidationError,
)
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from ninja import errors as ninja_errors

from portal.forms import error_codes

CONTENT_TYPE = "application/problem+json"
# A stale version: the services' two-editors guard.
STALE_CODES = {"stale"}

logger = logging.getLogger("django.request")


class BodyRefused(Exception):
    """The body cannot be read as one JSON object; says why."""

    def __init__(self, status: int, detail: str, errors: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors


class CursorRefused(Exception):
    """A list's cursor that this API did not hand out."""


def problem(
    status: int,
    detail: str = "",
    *,
    errors: dict[str, list[str]] | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    """Return the problem response for ``status``."""
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or HTTPStatus(status).description,
    }
    if errors:
        body["errors"] = errors
    if code:
        body["code"] = code
    response = HttpResponse(
        json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False),
        status=status,
        content_type=CONTENT_TYPE,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def unauthorized(detail: str) -> HttpResponse:
    return problem(401, detail, headers={"WWW-Authenticate": "Bearer"})


def refused(exc: ValidationError) -> HttpResponse:
    """Answer a service's (or a page form's) refusal: 422, or 409 if stale."""
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    if hasattr(exc, "error_dict"):
        for field, field_errors in exc.error_dict.items():
            messages = [m for e in field_errors for m in e.messages]
            if field == NON_FIELD_ERRORS:
                general += messages
            else:
                errors[field] = messages
    else:
        general = list(exc.messages)
    codes = {c for c in error_codes(exc) if c}
    status = 409 if codes & STALE_CODES else 422
    detail = " ".join(general) or "Some fields were refused; see errors."
    code = next(iter(codes)) if len(codes) == 1 else None
    return problem(status, detail, errors=errors or None, code=code)


def form_refused(form) -> HttpResponse:
    """Answer a page form's errors as the service's would be: 422."""
    return refused(ValidationError(form.errors.as_data()))


def _path(loc) -> str:
    """Return a pydantic error location as ``field.sub[0]``, minus its source."""
    parts = list(loc)
    source = parts.pop(0) if parts else ""
    if source == "body" and len(parts) > 1:
        parts.pop(0)  # the view's parameter name, not a field of the body
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or source or "body"


def _schema_refused(request, exc: ninja_errors.ValidationError):
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        errors.setdefault(_path(error.get("loc", ())), []).append(error["msg"])
    return problem(
        400,
        "The request does not match the API's schema; see errors.",
        errors=errors,
        code="invalid_request",
    )


def _http_error(request, exc: ninja_errors.HttpError):
    cause = exc.__cause__
    if isinstance(cause, BodyRefused):
        return problem(cause.status, cause.detail, errors=cause.errors, code="bad_body")
    if isinstance(exc, ninja_errors.AuthenticationError):
        if request.headers.get("Authorization"):
            return unauthorized("The token is unknown, revoked or expired.")
        return unauthorized("Send a token: Authorization: Bearer sbt_….")
    if isinstance(exc, ninja_errors.Throttled):
        return problem(
            429,
            "Too many requests with this token this minute; retry after the "
            "number of seconds in Retry-After.",
            code="rate_limited",
        )
    return problem(exc.status_code, str(exc))


def _not_found(request, exc):
    detail = str(exc) if isinstance(exc, Http404) else ""
    return problem(404, detail or "No such record.")


def _forbidden(request, exc: PermissionDenied):
    return problem(
        403,
        str(exc) or "Your role may not do that.",
        code=getattr(exc, "code", "permission_denied"),
    )


def _cursor_refused(request, exc: CursorRefused):
    return problem(
        400,
        "The cursor is not one this list handed out; start again without it.",
        errors={"cursor": ["Unknown or garbled cursor."]},
        code="bad_cursor",
    )


def server_error(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """Log the fault as Django does, and answer a bare 500 problem."""
    logger.error(
        "Internal Server Error: %s",
        request.path,
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"status_code": 500, "request": request},
    )
    response = problem(500, "Something went wrong on our side; it has been logged.")
    response._has_been_logged = True  # Django's own line would repeat this one
    return response


def install(api) -> None:
    """Make ``api`` answer every exception as a problem."""
    handlers = {
        Exception: server_error,
        ninja_errors.ValidationError: _schema_refused,
        ninja_errors.HttpError: _http_error,
        Http404: _not_found,
        ObjectDoesNotExist: _not_found,
        PermissionDenied: _forbidden,
        ValidationError: lambda request, exc: refused(exc),
        CursorRefused: _cursor_refused,
    }
    for exc_class, handler in handlers.items():
        api.add_exception_handler(exc_class, handler)
