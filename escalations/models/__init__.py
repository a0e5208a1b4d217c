"""Escalations and credits, split by subject; callers import from here.

routing.py holds tiers, rules and escalations (issue 11); credits.py holds
credit and refund requests with their approval limits (issue 12);
metrics.py holds metric targets and reviews (issue 15).
"""

# Credits and refunds (issue 12)
from .credits import (
    ApprovalLimit,
    CreditKind,
    CreditPolicy,
    CreditRequest,
    CreditStatus,
    CurrencyRate,
)

# Metrics and reviews (issue 15)
from .metrics import MetricTarget, Review, ReviewAction, ReviewKind

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
    # Escalation routing (issue 11)
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
    # Credits and refunds (issue 12)
    "ApprovalLimit",
    "CreditKind",
    "CreditPolicy",
    "CreditRequest",
    "CreditStatus",
    "CurrencyRate",
    # Metrics and reviews (issue 15)
    "MetricTarget",
    "Review",
    "ReviewAction",
    "ReviewKind",
]
