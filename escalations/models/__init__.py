"""Escalations and credits, one module per subject; import them from here."""

from .credits import (
    APPROVAL_LIMIT_HELP,
    CENT,
    CURRENCY_VALIDATOR,
    ApprovalLimit,
    CreditKind,
    CreditPolicy,
    CreditRequest,
    CreditStatus,
    CurrencyRate,
)
from .escalations import (
    TRACKER_KEY_VALIDATOR,
    BugReport,
    Escalation,
    EscalationFiring,
    EscalationStatus,
)
from .hours import WorkingSpan, parse_working_hours, validate_working_hours
from .metrics import MetricTarget, Review, ReviewAction, ReviewKind
from .paging import PageDelivery, PagerKind
from .paths import (
    BUG_REPORT_PATHS,
    GENERIC_REQUIRED,
    PATH_FIELDS,
    PATH_SITUATIONS,
    NoteSentiment,
    Path,
    PathField,
    Urgency,
)
from .routing import (
    SEED_PRECEDENCE_HELP,
    CustomerFlag,
    EscalationRule,
    Flag,
    PreEscalationCheck,
    Tier,
)

__all__ = [
    "PageDelivery",
    "PagerKind",
    "APPROVAL_LIMIT_HELP",
    "ApprovalLimit",
    "BUG_REPORT_PATHS",
    "BugReport",
    "CENT",
    "CURRENCY_VALIDATOR",
    "CreditKind",
    "CreditPolicy",
    "CreditRequest",
    "CreditStatus",
    "CurrencyRate",
    "CustomerFlag",
    "Escalation",
    "EscalationFiring",
    "EscalationRule",
    "EscalationStatus",
    "Flag",
    "GENERIC_REQUIRED",
    "MetricTarget",
    "NoteSentiment",
    "PATH_FIELDS",
    "PATH_SITUATIONS",
    "Path",
    "PathField",
    "PreEscalationCheck",
    "Review",
    "ReviewAction",
    "ReviewKind",
    "SEED_PRECEDENCE_HELP",
    "TRACKER_KEY_VALIDATOR",
    "Tier",
    "Urgency",
    "WorkingSpan",
    "parse_working_hours",
    "validate_working_hours",
]
