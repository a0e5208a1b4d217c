"""The doors machines use answer JSON, always.

Every machine endpoint reads its body here: too big, not JSON, nested past
reason, or carrying text no database can store (a NUL, an unpaired
surrogate) is a 4xx with a JSON error naming the field, before anything is
written or counted.
"""

import json
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse

MAX_BODY_BYTES = 1_000_000
MAX_DEPTH = 32


def json_error(message: str, status: int, **more) -> JsonResponse:
    """Return a JSON error body: ``error`` says what, the rest where."""
    return JsonResponse({"error": message, **more}, status=status)


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unstorable_fields(payload: Any) -> tuple[dict[str, str], str | None]:
    """Return {field path: problem} for text that cannot be stored, and the
    path at which the payload nests deeper than MAX_DEPTH, if it does
    (walked without recursion, so a hostile depth cannot exhaust the
    stack)."""
    problems: dict[str, str] = {}
    stack = [("", payload, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return problems, path or "body"
        if isinstance(value, str):
            if not _storable(value):
                problems[path or "body"] = "Contains a NUL or an unpaired surrogate."
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{path}.{key}" if path else str(key)
                if not _storable(str(key)):
                    problems[path or "body"] = "A key holds unstorable text."
                    continue
                stack.append((name, item, depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((f"{path}[{index}]", item, depth + 1))
    return problems, None


def _too_deep(path: str) -> JsonResponse:
    return json_error(
        f"The JSON nests deeper than {MAX_DEPTH} levels.",
        400,
        fields={path: f"Nests deeper than {MAX_DEPTH} levels."},
    )


def read_json(
    request: HttpRequest, *, max_bytes: int = MAX_BODY_BYTES
) -> tuple[Any, JsonResponse | None]:
    """Return the request's JSON body, or the JSON refusal to answer with."""
    too_big = json_error(f"The body is over {max_bytes:,} bytes.", 413)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > max_bytes:
        return None, too_big
    try:
        body = request.body
    except RequestDataTooBig:
        return None, too_big
    if len(body) > max_bytes:
        return None, too_big
    try:
        payload = json.loads(body)
    except RecursionError:
        return None, _too_deep("body")
    except (ValueError, UnicodeDecodeError):
        return None, json_error("The body is not valid JSON.", 400)
    problems, too_deep_at = unstorable_fields(payload)
    if too_deep_at:
        return None, _too_deep(too_deep_at)
    if problems:
        return None, json_error(
            "Some text cannot be stored.", 400, fields=dict(sorted(problems.items()))
        )
    return payload, None
