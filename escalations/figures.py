"""The figures the playbooks ask managers to watch, and how each reads.

Targets are data (MetricTarget per policy); this module only names the
figures, their units and which way is good, so the admin, the dashboard and
the tests agree on one list.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str  # "%", "score", "hours", "count"
    higher_is_better: bool | None  # None: shown without a verdict
    by_priority: bool = False
    source: str = ""


FIGURES = [
    Figure(
        "first_response_compliance",
        "First responses on time",
        "%",
        True,
        by_priority=True,
        source="Agency resolution protocol, response time tracking",
    ),
    Figure(
        "resolution_compliance",
        "Resolutions on time",
        "%",
        True,
        by_priority=True,
        source="Agency resolution protocol, resolution time tracking",
    ),
    Figure(
        "sla_compliance",
        "Resolved within SLA",
        "%",
        True,
        source="Fleet escalation playbook, metric 4",
    ),
    Figure(
        "csat",
        "Customer satisfaction (1-5)",
        "score",
        True,
        source="Fleet escalation playbook, metric 5",
    ),
    Figure(
        "escalation_rate",
        "Incidents escalated",
        "%",
        False,
        source="Fleet escalation playbook, metric 1 (Tier 1 to Tier 2)",
    ),
    Figure(
        "first_contact_resolution",
        "Resolved without escalation",
        "%",
        True,
        source="Fleet escalation playbook, metric 6",
    ),
    Figure(
        "tier1_resolution_rate",
        "Resolved at Tier 1 (never past it)",
        "%",
        True,
        source="Fleet escalation playbook, metric 2 (Tier 1)",
    ),
    Figure(
        "tier2_resolution_rate",
        "Resolved at Tier 2 (of those escalated there)",
        "%",
        True,
        source="Fleet escalation playbook, metric 2 (Tier 2)",
    ),
    Figure(
        "avg_hours_to_escalation",
        "Average time to escalation",
        "hours",
        False,
        source="Fleet escalation playbook, metric 3",
    ),
    Figure(
        "avg_hours_to_detect",
        "Average time to detect",
        "hours",
        False,
        source="Carrier communication playbook, part 5A",
    ),
    Figure(
        "avg_hours_to_first_response",
        "Average time to first response",
        "hours",
        False,
        source="Carrier communication playbook, part 5A",
    ),
    Figure(
        "avg_hours_to_resolution",
        "Average time to resolution",
        "hours",
        False,
        source="Carrier communication playbook, part 5A",
    ),
    Figure(
        "avg_customer_contacts",
        "Customer contacts per incident",
        "count",
        False,
        source="Carrier communication playbook, part 5A",
    ),
    Figure(
        "sla_breaches",
        "SLA breaches",
        "count",
        False,
        source="Carrier communication playbook, part 5A",
    ),
]
BY_KEY = {figure.key: figure for figure in FIGURES}
CHOICES = [(figure.key, figure.label) for figure in FIGURES]
