"""Working hours of a tier, written as people say them: "Mon-Fri 06:00-20:00"."""

import datetime as dt
import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

_DAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}


_SPAN = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+"
    r"(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$"
)


@dataclass(frozen=True)
class WorkingSpan:
    weekdays: frozenset[int]
    start: dt.time
    end: dt.time


def _clock_time(text: str) -> dt.time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours == 24 and minutes == 0:
        return dt.time.max
    return dt.time(hours, minutes)


def parse_working_hours(text: str) -> list[WorkingSpan]:
    """Return the spans of ``text``; raise ValidationError when unreadable."""
    spans = []
    for part in filter(None, (p.strip().lower() for p in text.split(","))):
        match = _SPAN.match(part)
        try:
            if not match:
                raise ValueError
            first = _DAYS[match["first"]]
            last = _DAYS[match["last"] or match["first"]]
            start, end = _clock_time(match["start"]), _clock_time(match["end"])
        except (KeyError, ValueError):
            raise ValidationError(
                "“%(part)s” is not a span like “Mon-Fri 06:00-20:00”.",
                code="bad_working_hours",
                params={"part": part},
            ) from None
        if first > last or start >= end:
            raise ValidationError(
                "“%(part)s” ends before it starts.",
                code="bad_working_hours",
                params={"part": part},
            )
        spans.append(WorkingSpan(frozenset(range(first, last + 1)), start, end))
    return spans


def validate_working_hours(value: str) -> None:
    parse_working_hours(value)
