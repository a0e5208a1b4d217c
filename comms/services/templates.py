"""Changes to the message template library."""

import multiprocessing
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from .. import rendering
from ..catalogue import CATALOGUE, INTERNAL_ONLY, TOP_LEVEL_NAMES, sample_contexts
from ..models import (
    Audience,
    MessageTemplate,
    MessageTemplateVersion,
)

User = AbstractBaseUser

# Names every template may use besides the catalogue: Jinja's own.
BUILTIN_NAMES = {"range", "loop", "caller", "varargs", "kwargs"}
SAMPLE_RENDER_TIMEOUT_SECONDS = 3


def _unknown_variables(source: str) -> list[str]:
    problems = []
    for path, line in rendering.variable_uses(source):
        top = path.split(".")[0]
        if top in BUILTIN_NAMES:
            continue
        if path in CATALOGUE or path in TOP_LEVEL_NAMES:
            continue
        if top in TOP_LEVEL_NAMES:
            problems.append(f"Line {line}: “{path}” is not in the variable catalogue.")
        else:
            problems.append(f"Line {line}: unknown variable “{path}”.")
    return problems


def _internal_variables(source: str) -> list[str]:
    """Name each internal-only variable a customer template uses."""
    return [
        f"Line {line}: “{path}” is internal and never goes to a customer; use "
        "incident.customer_summary or incident.fix instead."
        for path, line in rendering.variable_uses(source)
        if path in INTERNAL_ONLY
    ]


def _render_sample(subject: str, body: str, connection) -> None:
    try:
        for context in sample_contexts():
            rendering.render(subject, body, context)
    except rendering.RenderError as exc:
        connection.send(str(exc))
    else:
        connection.send(None)


def _sample_render_error(subject: str, body: str) -> str | None:
    """Render against the sample contexts in a child process with a hard limit.

    A child process can be killed whatever the template does (a loop that
    emits nothing never yields control to the in-process checks).
    """
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe(duplex=False)
    child = context.Process(
        target=_render_sample, args=(subject, body, child_end), daemon=True
    )
    child.start()
    child_end.close()
    child.join(SAMPLE_RENDER_TIMEOUT_SECONDS)
    if child.is_alive():
        child.kill()
        child.join()
        return (
            f"The template did not finish rendering within "
            f"{SAMPLE_RENDER_TIMEOUT_SECONDS} s."
        )
    if not parent_end.poll():
        return "The template could not be rendered (the renderer stopped)."
    return parent_end.recv()


def check_template_source(*, subject: str, body: str, audience: str = "") -> None:
    """Refuse wording with bad syntax, unknown variables, or that fails to render.

    A customer template may not use internal notes. Errors name the field
    and line, for the admin form.
    """
    errors: dict[str, list[str]] = {}
    for field, source in (("subject", subject), ("body", body)):
        try:
            problems = _unknown_variables(source)
            if audience == Audience.CUSTOMER:
                problems += _internal_variables(source)
        except rendering.RenderError as exc:
            problems = [f"Syntax error: {exc}"]
        if problems:
            errors[field] = problems
    if errors:
        raise ValidationError(
            {
                field: [ValidationError(p, code="invalid_template") for p in problems]
                for field, problems in errors.items()
            }
        )
    failure = _sample_render_error(subject, body)
    if failure:
        raise ValidationError({"body": ValidationError(failure, code="render_failed")})


@transaction.atomic
def revise_template(
    *,
    template: MessageTemplate,
    subject: str,
    body: str,
    actor: User | None,
) -> MessageTemplateVersion:
    """Save new wording for a template as its next version.

    Saving the same wording again changes nothing and returns the current
    version.
    """
    check_template_source(subject=subject, body=body, audience=template.audience)
    template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
    current = template.current_version
    if current and (current.subject, current.body) == (subject, body):
        return current
    number = (current.number if current else 0) + 1
    version = MessageTemplateVersion.objects.create(
        template=template,
        number=number,
        subject=subject,
        body=body,
        created_by=actor,
    )
    template.current_version = version
    template.save(update_fields=["current_version", "updated_at"])
    return version


def preview_template(
    *, version: MessageTemplateVersion, context: dict[str, Any]
) -> rendering.Rendered:
    """Render a version against a context, raising ValidationError on failure."""
    try:
        return rendering.render(version.subject, version.body, context)
    except rendering.RenderError as exc:
        raise ValidationError(str(exc), code="render_failed") from None
