"""Security incident response: phases, their windows, checklists.

From the fleet escalation playbook. Each phase's window counts from the
moment of detection. The notify phase has no window of its own: the law
decides (the regulatory clocks the responder chooses set its deadline). The
checklists are the playbook's steps, in our words; the people to tell at
once are its step 1.
"""

import datetime as dt
from dataclasses import dataclass

from .models import SecurityPhaseKind as Phase


@dataclass(frozen=True)
class PhaseShape:
    kind: str
    starts_after: dt.timedelta
    due_after: dt.timedelta | None
    checklist: tuple[tuple[str, tuple[str, ...]], ...]


def _minutes(n: int) -> dt.timedelta:
    return dt.timedelta(minutes=n)


PHASES = (
    PhaseShape(
        Phase.IDENTIFY,
        _minutes(0),
        _minutes(15),
        (
            (
                "Hold back",
                (
                    "Stay calm and work the procedure",
                    "Delete no evidence",
                    "Tell no customer yet",
                    "Post nothing on social media",
                ),
            ),
            (
                "Record",
                (
                    "Write down everything done, as it is done",
                    "Preserve the logs",
                    "Take screenshots",
                    "Note the exact time of detection",
                ),
            ),
            (
                "First assessment",
                (
                    "What happened?",
                    "When did it start?",
                    "Which data is affected?",
                    "Is the attack still going on?",
                ),
            ),
        ),
    ),
    PhaseShape(
        Phase.CONTAIN,
        _minutes(15),
        _minutes(60),
        (
            (
                "Isolate (led by the security officer)",
                (
                    "Disable compromised user accounts",
                    "Block suspicious IP addresses",
                    "Rotate exposed API keys and credentials",
                    "Take affected servers offline if needed",
                ),
            ),
            (
                "Stop further damage",
                (
                    "Turn on extra logging",
                    "Close the attack vectors",
                    "Apply emergency firewall rules",
                ),
            ),
            (
                "Keep the evidence",
                (
                    "Snapshot the affected disks",
                    "Export logs before they rotate",
                    "Write down what the attacker did",
                ),
            ),
        ),
    ),
    PhaseShape(
        Phase.INVESTIGATE,
        _minutes(60),
        _minutes(24 * 60),
        (
            (
                "Root cause",
                (
                    "How did the attacker get in?",
                    "Which weakness was used?",
                    "Which data was reached?",
                    "How long were they inside?",
                ),
            ),
            (
                "Damage",
                (
                    "List the affected data",
                    "Name the affected customers",
                    "Establish whether data left our systems",
                    "Look for backdoors",
                ),
            ),
            (
                "Security incident report",
                (
                    "Timeline of events",
                    "Attack vectors",
                    "Data accessed",
                    "Response actions taken",
                ),
            ),
        ),
    ),
    PhaseShape(
        Phase.ERADICATE,
        _minutes(60),
        _minutes(48 * 60),
        (
            (
                "Patch",
                (
                    "Apply security patches",
                    "Fix the vulnerable code",
                    "Correct configurations",
                ),
            ),
            (
                "Remove access",
                (
                    "Delete backdoors",
                    "Reset all credentials",
                    "Rebuild compromised systems",
                ),
            ),
            (
                "Verify clean",
                (
                    "Scan for malware",
                    "Review logs for suspicious activity",
                    "Test the fixes",
                ),
            ),
        ),
    ),
    PhaseShape(
        Phase.RECOVER,
        _minutes(2 * 24 * 60),
        _minutes(7 * 24 * 60),
        (
            (
                "Restore",
                (
                    "Bring systems back online",
                    "Give users access again",
                    "Watch closely",
                ),
            ),
            (
                "Integrity",
                (
                    "Validate the data",
                    "Test every function",
                    "Watch for anomalies",
                ),
            ),
            (
                "Heightened monitoring",
                (
                    "Raise logging detail",
                    "Add alerts",
                    "Hold a security review every day",
                ),
            ),
        ),
    ),
    PhaseShape(
        Phase.NOTIFY,
        _minutes(0),
        None,
        (
            (
                "Legal decides",
                (
                    "Which customers must be told",
                    "By when (most jurisdictions: 24 to 72 hours)",
                    "What may be said",
                ),
            ),
            (
                "Notify",
                (
                    "Choose the regulatory clocks that apply",
                    "File the regulator notices",
                    "Send the customer security notice once Legal approved it",
                ),
            ),
        ),
    ),
    PhaseShape(
        Phase.LESSONS,
        _minutes(0),
        _minutes(7 * 24 * 60),
        (
            (
                "Review",
                (
                    "Hold the lessons-learned post-mortem",
                    "What went well: detection speed, coordination, communication",
                    "What to improve: prevention, procedures, tools and monitoring",
                ),
            ),
            (
                "Follow through",
                (
                    "Actions for security enhancements, process and training",
                    "Complete the incident report",
                    "Update the security playbook",
                    "Share the learnings with the team",
                ),
            ),
        ),
    ),
)


def at_risk_at(starts_at: dt.datetime, due_at: dt.datetime) -> dt.datetime:
    """Return when a phase clock turns amber: its last quarter."""
    return due_at - (due_at - starts_at) / 4
