"""Pager backends: who gets woken for an urgent escalation out of hours.

Chosen by the ESCALATION_PAGER_BACKEND setting (a dotted path), like Django's
e-mail backends. The default writes to the log; the page itself is recorded on
the incident's timeline by the service either way.
"""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class LogPager:
    """Write the page to the log (development, and until a pager is set up)."""

    def page(self, *, contact: str, subject: str, text: str) -> None:
        logger.warning("PAGE %s: %s\n%s", contact or "on-call", subject, text)


class RecordingPager:
    """Keep pages in memory, for tests."""

    pages: list[dict] = []

    def page(self, *, contact: str, subject: str, text: str) -> None:
        RecordingPager.pages.append(
            {"contact": contact, "subject": subject, "text": text}
        )


def pager():
    """Return the configured pager backend."""
    path = getattr(settings, "ESCALATION_PAGER_BACKEND", "escalations.paging.LogPager")
    return import_string(path)()


# --- Pagers set per tier: PagerDuty and a plain HTTP webhook ----------------

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
PAGE_TIMEOUT_SECONDS = 10


class PagerError(Exception):
    """The pager did not accept the call; worth retrying."""


def pagerduty_body(delivery) -> dict:
    """The Events API v2 event: trigger with a summary, or acknowledge or
    resolve the alert the trigger opened (same dedup key)."""
    body = {
        "routing_key": delivery.tier.pager_key,
        "event_action": delivery.action,
        "dedup_key": delivery.dedup_key,
    }
    if delivery.action == "trigger":
        incident = delivery.escalation.incident
        body["payload"] = {
            "summary": delivery.subject[:1024],
            "source": "switchboard",
            "severity": "critical" if incident.priority == "P1" else "error",
            "component": delivery.tier.name,
            "custom_details": {
                "incident": incident.reference,
                "priority": incident.priority,
                "tier": delivery.tier.name,
                "contact": delivery.contact,
                "why": delivery.text,
            },
        }
        base = settings.PORTAL_BASE_URL.rstrip("/")
        if base:
            body["links"] = [
                {
                    "href": f"{base}{incident.get_absolute_url()}",
                    "text": incident.reference,
                }
            ]
    return body


def http_body(delivery) -> dict:
    incident = delivery.escalation.incident
    base = settings.PORTAL_BASE_URL.rstrip("/")
    return {
        "event": delivery.action,
        "dedup_key": delivery.dedup_key,
        "incident": incident.reference,
        "priority": incident.priority,
        "tier": delivery.tier.name,
        "contact": delivery.contact,
        "subject": delivery.subject,
        "text": delivery.text,
        "url": f"{base}{incident.get_absolute_url()}" if base else "",
    }


def send_page(delivery) -> int:
    """Post the delivery to its tier's pager; return the HTTP status.

    Raise PagerError when it was not accepted (any non-2xx answer, or no
    answer at all).
    """
    import json
    import urllib.error
    import urllib.request

    tier = delivery.tier
    headers = {"Content-Type": "application/json", "User-Agent": "Switchboard"}
    if tier.pager == "pagerduty":
        url = tier.pager_url or getattr(
            settings, "PAGERDUTY_EVENTS_URL", PAGERDUTY_EVENTS_URL
        )
        body = pagerduty_body(delivery)
    else:
        url, body = tier.pager_url, http_body(delivery)
        if tier.pager_key:
            headers["Authorization"] = f"Bearer {tier.pager_key}"
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=PAGE_TIMEOUT_SECONDS) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        raise PagerError(f"{url} answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise PagerError(f"{url}: {exc}") from None
