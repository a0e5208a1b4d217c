"""Request bodies: one JSON object, held to the machine doors' limits."""

import json

from django.core.exceptions import RequestDataTooBig
from ninja.parser import Parser

from portal.json_api import MAX_BODY_BYTES, MAX_DEPTH, unstorable_fields

from .problems import BodyRefused


class JsonObjectParser(Parser):
    """Read the body as portal.json_api reads the signal API's.

    Too big, not JSON, not an object, nested past reason, or holding text no
    database stores (a NUL, an unpaired surrogate): refused, naming the
    field, before the schema or any service sees it.
    """

    def parse_body(self, request):
        try:
            body = request.body
        except RequestDataTooBig:
            body = None
        if body is None or len(body) > MAX_BODY_BYTES:
            raise BodyRefused(413, f"The body is over {MAX_BODY_BYTES:,} bytes.")
        try:
            payload = json.loads(body)
        except RecursionError:
            payload, too_deep_at = None, "body"
        except (ValueError, UnicodeDecodeError):
            raise BodyRefused(400, "The body is not valid JSON.") from None
        else:
            problems, too_deep_at = unstorable_fields(payload)
        if too_deep_at:
            raise BodyRefused(
                400,
                f"The JSON nests deeper than {MAX_DEPTH} levels.",
                {too_deep_at: [f"Nests deeper than {MAX_DEPTH} levels."]},
            )
        if problems:
            raise BodyRefused(
                400,
                "Some text cannot be stored.",
                {path: [why] for path, why in sorted(problems.items())},
            )
        if not isinstance(payload, dict):
            raise BodyRefused(400, "Send one JSON object.")
        return payload
