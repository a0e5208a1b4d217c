"""The incident status machine: every allowed move, in one table, and what
the portal keeps doing by itself in each status, in another."""

from .models import Incident

S = Incident.Status

_WORKING = {
    S.INVESTIGATING,
    S.WAITING_PARTNER,
    S.WAITING_VENDOR,
    S.WAITING_CUSTOMER,
    S.FIX_IN_PROGRESS,
    S.MONITORING,
}

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.NEW: frozenset({S.INVESTIGATING}),
    **{
        status: frozenset((_WORKING - {status}) | {S.RESOLVED})
        for status in _WORKING
        if status != S.WAITING_CUSTOMER
    },
    # Waiting on a customer who never answers ends as closed-pending: the
    # 7-day auto-close rule, or an agent applying it by hand.
    S.WAITING_CUSTOMER: frozenset(
        (_WORKING - {S.WAITING_CUSTOMER}) | {S.RESOLVED, S.CLOSED_PENDING}
    ),
    # A recurrence before closing goes back to work without a reopen.
    S.RESOLVED: frozenset({S.CLOSED, S.INVESTIGATING, S.FIX_IN_PROGRESS}),
    # Leaving a closed state is a reopen (reopen_incident), not a move.
    S.CLOSED: frozenset(),
    S.CLOSED_PENDING: frozenset(),
}

REOPENABLE = frozenset({S.CLOSED, S.CLOSED_PENDING})


def allowed_moves(status: str) -> list[str]:
    """Return the statuses an incident in ``status`` may move to, in order."""
    allowed = ALLOWED_TRANSITIONS[status]
    return [s for s in S.values if s in allowed]


def refusal_reason(current: str, target: str) -> str | None:
    """Return why ``current`` → ``target`` is refused, or None if allowed."""
    if target not in S.values:
        return f"“{target}” is not a status."
    if current == target:
        return f"The incident is already {S(current).label.lower()}."
    if current in REOPENABLE:
        return (
            f"The incident is {S(current).label.lower()}; reopen it first "
            "(reopening keeps its history)."
        )
    if target not in ALLOWED_TRANSITIONS[current]:
        options = ", ".join(S(s).label.lower() for s in allowed_moves(current))
        reason = (
            f"An incident that is {S(current).label.lower()} cannot move to "
            f"{S(target).label.lower()}; it can move to: {options}."
        )
        steps = path_between(current, target)
        if steps:
            missing = " then ".join(S(s).label.lower() for s in steps[:-1])
            reason += f" To get there, move it to {missing} first."
        return reason
    return None


def path_between(current: str, target: str) -> list[str]:
    """Return the shortest list of moves from ``current`` to ``target``."""
    came_from: dict[str, str] = {current: ""}
    queue = [current]
    while queue:
        status = queue.pop(0)
        if status == target:
            path = []
            while status != current:
                path.append(status)
                status = came_from[status]
            return path[::-1]
        for following in allowed_moves(status):
            if following not in came_from:
                came_from[following] = status
                queue.append(following)
    return []


# What the portal does by itself for an incident, and in which statuses.
# Every app's sweep, queue and held message reads its line here at the
# moment it acts, so this table alone says what stops when an incident is
# resolved or closed, and what a reopening brings back.
_BEFORE_RESOLUTION = frozenset({S.NEW, *_WORKING})
_UNTIL_CLOSED = _BEFORE_RESOLUTION | {S.RESOLVED}

AUTOMATION_RUNS_WHILE: dict[str, frozenset[str]] = {
    # Updates promised to each audience; resolution has messages of its own.
    "follow_ups": _BEFORE_RESOLUTION,
    # Rules that escalate, reminders and check-ins while a tier has not
    # picked it up, and the management notices of long-open incidents.
    "escalation_rules": _BEFORE_RESOLUTION,
    "escalation_reminders": _BEFORE_RESOLUTION,
    "management_notices": _BEFORE_RESOLUTION,
    # An escalation stays open while its tier may still be asked about the
    # fix (it sees the incident resolved); closing ends it.
    "escalations": _UNTIL_CLOSED,
    # A message the portal wrote about the ongoing work (a follow-up, an
    # escalation notice) is withdrawn if it has not left by resolution.
    "progress_messages": _BEFORE_RESOLUTION,
    # A resolution message is withdrawn if it has not left by a reopening.
    "resolution_messages": frozenset({S.RESOLVED, *REOPENABLE}),
    "plan_start": _UNTIL_CLOSED,
    # The law's clocks run on: they count from detection, whatever the
    # incident's status, until it is closed.
    "security_clocks": _UNTIL_CLOSED,
    "auto_close": frozenset({S.RESOLVED, S.WAITING_CUSTOMER}),
}


def runs_while(automation: str) -> frozenset[str]:
    """Return the statuses in which ``automation`` keeps running."""
    return AUTOMATION_RUNS_WHILE[automation]


def runs(automation: str, status: str) -> bool:
    """Say whether ``automation`` runs for an incident in ``status``."""
    return status in AUTOMATION_RUNS_WHILE[automation]
