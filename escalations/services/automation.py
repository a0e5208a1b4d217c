"""The automation rules the sweep runs, in order.

Silence and deadlines raise alarms and escalate; quiet incidents close
themselves. Each firing claims a unique key in EscalationFiring first (or,
for a close, holds the incident's row lock and re-checks its status), so
two sweeps side by side, or a retried one, never do a step twice.
Every message goes through comms, so delivery rules and de-duplication
apply; every close goes through the closure guard."""

import datetime as dt

from .auto_close import (
    close_confirmed,
    close_silent_resolved,
    close_waiting_on_customer,
)
from .deadlines import alert_deadlines_at_risk, record_breaches
from .silence import escalate_no_response, escalate_silent_parties


def due_work(now: dt.datetime) -> dict[str, int]:
    """Run the automation rules once each; return how many fired."""
    check_ins, closed_resolved = close_silent_resolved(now)
    return {
        "parties_silent_escalated": escalate_silent_parties(now),
        "deadlines_at_risk_alerted": alert_deadlines_at_risk(now),
        "deadlines_breached": record_breaches(now),
        "no_response_escalated": escalate_no_response(now),
        "closed_confirmed": close_confirmed(now),
        "auto_close_check_ins": check_ins,
        "closed_resolved": closed_resolved,
        "closed_pending": close_waiting_on_customer(now),
    }
