"""Escalations and credits, split by subject; callers import from here.

routing.py holds tiers, rules and escalations (issue 11); credits.py holds
credit and refund requests with their approval limits (issue 12).
"""

# Escalation routing (issue 11)
from .routing import (
    BUG_REPORT_PATHS,
    GENERIC_REQUIRED,
    PATH_FIELDS,
    PATH_SITUATIONS,
    BugReport,
    CustomerFlag,
    Escalation,
    EscalationFiring,
    EscalationRule,
    Flag,
    NoteSentiment,
    Path,
    PathField,
    PreEscalationCheck,
    Tier,
    Urgency,
    parse_working_hours,
)

__all__ = [
    "BUG_REPORT_PATHS",
    "GENERIC_REQUIRED",
    "PATH_FIELDS",
    "PATH_SITUATIONS",
    "BugReport",
    "CustomerFlag",
    "Escalation",
    "EscalationFiring",
    "EscalationRule",
    "Flag",
    "NoteSentiment",
    "Path",
    "PathField",
    "PreEscalationCheck",
    "Tier",
    "Urgency",
    "parse_working_hours",
]
