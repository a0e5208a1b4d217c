"""The SLA clock: deadlines from policy × priority × segment, and their state.

Clock-minute targets run round the clock. A business-day target lands at the
same local time of day on the Nth working day after the start day; a clock
started on a non-working day starts at the beginning of the next working day.
"""

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from .models import BusinessCalendar, Policy, PolicyTarget


class ClockState(StrEnum):
    MET = "met"
    RUNNING = "running"
    AT_RISK = "at_risk"
    BREACHED = "breached"


CLOCK_STATE_LABELS = {
    ClockState.MET: "Met",
    ClockState.RUNNING: "Running",
    ClockState.AT_RISK: "At risk",
    ClockState.BREACHED: "Breached",
}


@dataclass(frozen=True)
class Deadlines:
    first_response_due_at: dt.datetime
    first_response_at_risk_at: dt.datetime
    resolution_due_at: dt.datetime
    resolution_at_risk_at: dt.datetime


@dataclass(frozen=True)
class WorkingDays:
    """A calendar's working weekdays and holidays, loaded once."""

    zone: zoneinfo.ZoneInfo
    weekdays: frozenset[int]
    holidays: frozenset[dt.date]

    @classmethod
    def of(cls, calendar: BusinessCalendar) -> "WorkingDays":
        return cls(
            zone=zoneinfo.ZoneInfo(calendar.time_zone),
            weekdays=frozenset(int(d) for d in calendar.working_weekdays),
            holidays=frozenset(calendar.holidays.values_list("falls_on", flat=True)),
        )

    def is_working(self, day: dt.date) -> bool:
        return day.isoweekday() in self.weekdays and day not in self.holidays

    def add_business_days(self, start: dt.datetime, days: int) -> dt.datetime:
        if not self.weekdays:
            raise ValueError("The calendar has no working days.")
        local = start.astimezone(self.zone)
        day, time_of_day = local.date(), local.timetz().replace(tzinfo=None)
        if not self.is_working(day):
            time_of_day = dt.time(0, 0)
            while not self.is_working(day):
                day += dt.timedelta(days=1)
        remaining = days
        while remaining:
            day += dt.timedelta(days=1)
            if self.is_working(day):
                remaining -= 1
        deadline = dt.datetime.combine(day, time_of_day, tzinfo=self.zone)
        return deadline.astimezone(dt.UTC)


def scaled_target(minutes: int, factor: Decimal) -> dt.timedelta:
    """Return ``minutes`` times ``factor``, to the second: 15 × 0.5 is 7.5 min."""
    return dt.timedelta(seconds=max(1, math.ceil(minutes * 60 * factor)))


def at_risk_window(
    target: dt.timedelta, *, own_minutes: int | None, policy: Policy
) -> dt.timedelta:
    """Return how long before its deadline a clock counts as at risk.

    A target may set its own window. Otherwise the policy's window applies,
    capped at half the target: a 30-minute first response is not at risk
    from its first minute just because resolution targets warn 2 h ahead.
    """
    if own_minutes is not None:
        return min(dt.timedelta(minutes=own_minutes), target)
    return min(dt.timedelta(minutes=policy.at_risk_minutes), target / 2)


def compute_deadlines(
    *,
    target: PolicyTarget,
    policy: Policy,
    segment: str | None,
    start: dt.datetime,
    working_days: WorkingDays,
) -> Deadlines:
    """Return the deadlines for an incident opened at ``start``.

    The segment factor scales the first-response target only; a systemic
    incident without a customer uses the standard factor.
    """
    factor = policy.response_factor(segment) if segment else Decimal(1)
    first_response = scaled_target(target.first_response_minutes, factor)
    first_response_due = start + first_response
    if target.resolution_business_days is not None:
        resolution_due = working_days.add_business_days(
            start, target.resolution_business_days
        )
    else:
        resolution_due = start + dt.timedelta(minutes=target.resolution_minutes)
    first_response_window = at_risk_window(
        first_response, own_minutes=target.first_response_at_risk_minutes, policy=policy
    )
    resolution_window = at_risk_window(
        resolution_due - start,
        own_minutes=target.resolution_at_risk_minutes,
        policy=policy,
    )
    return Deadlines(
        first_response_due_at=first_response_due,
        first_response_at_risk_at=first_response_due - first_response_window,
        resolution_due_at=resolution_due,
        resolution_at_risk_at=resolution_due - resolution_window,
    )


def clock_state(
    *,
    due_at: dt.datetime,
    at_risk_at: dt.datetime,
    stopped_at: dt.datetime | None,
    now: dt.datetime,
) -> ClockState:
    """Return where one deadline stands at ``now``."""
    if stopped_at is not None:
        return ClockState.MET if stopped_at <= due_at else ClockState.BREACHED
    if now > due_at:
        return ClockState.BREACHED
    if now >= at_risk_at:
        return ClockState.AT_RISK
    return ClockState.RUNNING


def span(interval: dt.timedelta | None) -> str:
    """A measured time as people say it: 25 min, 3 h 10 min, 2 days 4 h."""
    if interval is None:
        return "not recorded"
    minutes = int(interval.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"
