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
