"""Escalation paths: what each asks for in its note, which customer message it
sends, and where a bug report may be filed."""

from dataclasses import dataclass

from django.db import models


class Path(models.TextChoices):
    L2 = "l2", "L1 → L2 (senior support)"
    ENGINEERING = "engineering", "L1 → Engineering"
    TRUST_SAFETY = "trust_safety", "L1 → Trust & Safety"
    CARRIER = "carrier", "L1 → Carrier"
    URGENT = "urgent", "Urgent / critical"
    TIER1_TO_TIER2 = "tier1_to_tier2", "Tier 1 → Tier 2"
    TIER2_TO_TIER3 = "tier2_to_tier3", "Tier 2 → Tier 3 (engineering)"
    MANAGEMENT = "management", "Management"


@dataclass(frozen=True)
class PathField:
    name: str
    label: str
    required: bool = False
    choices: tuple[str, ...] = ()
    is_long: bool = True


PATH_FIELDS: dict[str, tuple[PathField, ...]] = {
    Path.L2: (),
    Path.ENGINEERING: (
        PathField(
            "environment",
            "Environment: customer id, device, app and OS versions",
            required=True,
        ),
        PathField("repro_steps", "Steps to reproduce", required=True),
        PathField("expected", "Expected behaviour", required=True),
        PathField("actual", "Actual behaviour", required=True),
        PathField("error_message", "Error message"),
        PathField("error_code", "Error code", is_long=False),
        PathField("error_at", "When the error happened", is_long=False),
    ),
    Path.TRUST_SAFETY: (
        PathField(
            "case_type",
            "Case type",
            required=True,
            choices=(
                "Suspension appeal",
                "Fraud review",
                "Security incident",
                "AUP review",
            ),
        ),
        PathField(
            "customer_statement",
            "The customer's statement, in their own words",
            required=True,
        ),
        PathField(
            "observations", "Your observations: context, tone, red flags", required=True
        ),
        PathField(
            "identity_verified_by", "Identity verified by (method)", is_long=False
        ),
        PathField(
            "identity_not_verified_because",
            "Or: identity not verified because",
            is_long=False,
        ),
    ),
    Path.CARRIER: (
        PathField(
            "carrier_issue",
            "Carrier issue",
            required=True,
            choices=("Port-in stuck", "Activation failure", "Network issue"),
        ),
        PathField("carrier_name", "Carrier", required=True, is_long=False),
        PathField("port_request_id", "Port request id", is_long=False),
        PathField(
            "attempts", "Attempt timeline (date → result, one per line)", required=True
        ),
        PathField("rejection_code", "Rejection code", is_long=False),
        PathField("rejection_reason", "Rejection reason", is_long=False),
        PathField("carrier_request", "What we ask the carrier to do", required=True),
    ),
    Path.URGENT: (
        PathField("why_urgent", "Why it is urgent", required=True),
        PathField("immediate_risk", "The immediate risk", required=True),
    ),
    Path.TIER1_TO_TIER2: (
        PathField("customer_impact", "Customer impact", required=True),
        PathField("error_message", "Error messages (text, codes)"),
        PathField("environment", "Environment: app version, OS version, device"),
        PathField("repro_steps", "Steps to reproduce"),
        PathField("logs", "Logs (last 100 lines)"),
        PathField(
            "frequency",
            "Frequency",
            required=True,
            choices=("One-time", "Recurring"),
        ),
        PathField("workaround", "Workaround"),
    ),
    Path.TIER2_TO_TIER3: (
        PathField(
            "root_cause_hypothesis", "Root cause analysis or hypothesis", required=True
        ),
        PathField("requested_action", "Requested action", required=True),
        PathField("environment", "Environment: app version, OS version, device"),
        PathField("repro_steps", "Steps to reproduce"),
    ),
    Path.MANAGEMENT: (
        PathField("situation", "Situation", required=True),
        PathField("customer_requests", "What the customer requests", required=True),
        PathField("risk", "Risk (renewal, churn, reputation)", required=True),
        PathField("recommended_action", "Recommended action", required=True),
    ),
}


# Which customer escalation message each path uses (comms situations).
PATH_SITUATIONS = {
    Path.L2: "to_l2",
    Path.ENGINEERING: "to_engineering",
    Path.TRUST_SAFETY: "to_trust_safety",
    Path.CARRIER: "to_carrier",
    Path.URGENT: "urgent",
    Path.TIER1_TO_TIER2: "to_l2",
    Path.TIER2_TO_TIER3: "to_engineering",
    Path.MANAGEMENT: "to_manager",
}


# Paths on which a bug report may be filed (fleet escalation playbook).
BUG_REPORT_PATHS = {Path.ENGINEERING, Path.TIER2_TO_TIER3}


# The generic note every path asks for (the carrier escalation guide's
# escalation note template).
GENERIC_REQUIRED = (
    "summary",
    "customer_wants",
    "tried",
    "why",
    "recommended_resolution",
)


class Urgency(models.TextChoices):
    """The carrier escalation guide's urgency scale, with the P1–P3 its
    engineering note asks for beside the three levels they match."""

    LOW = "low", "Low · standard queue"
    MEDIUM = "medium", "Medium · within 24 h (engineering P3)"
    HIGH = "high", "High · within 4 h (engineering P2)"
    CRITICAL = "critical", "Critical · immediately (engineering P1)"


class NoteSentiment(models.TextChoices):
    # The incident's own sentiment values come first, so the note can start
    # from what the incident says.
    UNKNOWN = "unknown", "Unknown"
    NEUTRAL = "neutral", "Neutral"
    UNDERSTANDING = "understanding", "Understanding"
    CALM = "calm", "Calm"
    FRUSTRATED = "frustrated", "Frustrated"
    ANGRY = "angry", "Angry"
    THREATENING_CHURN = "threatening_churn", "Threatening to leave"
