"""Security incident response: when a phase is at risk.

The phases, their windows and checklists are data an admin edits
(``SecurityPhaseTemplate``, shipped by migration incidents/0039 from the
fleet escalation playbook). Each window counts from the moment of detection;
the notify phase has none of its own: the law decides.
"""

import datetime as dt


def at_risk_at(starts_at: dt.datetime, due_at: dt.datetime) -> dt.datetime:
    """Return when a phase clock turns amber: its last quarter."""
    return due_at - (due_at - starts_at) / 4
