"""The satisfaction survey's links: signed for one incident and customer.

The link needs no row until it is answered; the signature stops forged or
altered links, the age limit stops stale ones, and the unique answer per
incident and customer makes each link single-use.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "switchboard.survey"


def survey_token(*, incident_id: int, customer_id: int) -> str:
    return signing.dumps({"i": incident_id, "c": customer_id}, salt=SALT, compress=True)


def survey_path(*, incident_id: int, customer_id: int) -> str:
    token = survey_token(incident_id=incident_id, customer_id=customer_id)
    return reverse("survey", args=[token])


def read_survey_token(token: str) -> tuple[int, int] | None:
    """Return (incident id, customer id), or None for a forged or stale link."""
    try:
        data = signing.loads(
            token, salt=SALT, max_age=settings.SURVEY_LINK_MAX_AGE_DAYS * 86400
        )
        return int(data["i"]), int(data["c"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
