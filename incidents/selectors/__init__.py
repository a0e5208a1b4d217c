"""Reads that pages and tasks share, one module per capability; import from here."""

from .closure import (
    incident_closure,
    incident_key_metrics,
    incidents_due_for_archive,
    incidents_newly_stuck,
    incidents_with_checklist_work,
    survey_answered,
)
from .incident import (
    SEVERITY_ORDER,
    IncidentHistory,
    incident_clocks,
    incident_detail,
    incident_history,
    overall_clock_state,
)
from .lists import (
    CUSTOMER_MATCH_LIMIT,
    CUSTOMER_TEXT_MAX_LENGTH,
    REFERENCE_PATTERN,
    SORTS,
    IncidentFilters,
    incident_list,
    incident_rows,
    incidents_owned_by,
    tagged,
    unassigned_incidents,
)
from .people import (
    AMBIGUOUS_LISTED,
    assignable_staff,
    assignable_staff_choices,
    customers_matching,
    customers_named_exactly,
)
from .plans import communication_plan_page
from .postmortems import (
    PostMortemPage,
    overdue_action_items,
    postmortem_list,
    postmortem_page,
)
from .security import (
    SecurityPage,
    security_clock_state,
    security_notice_cleared,
    security_page,
)

__all__ = [
    "AMBIGUOUS_LISTED",
    "CUSTOMER_MATCH_LIMIT",
    "CUSTOMER_TEXT_MAX_LENGTH",
    "IncidentFilters",
    "IncidentHistory",
    "PostMortemPage",
    "REFERENCE_PATTERN",
    "SEVERITY_ORDER",
    "SORTS",
    "SecurityPage",
    "assignable_staff",
    "assignable_staff_choices",
    "communication_plan_page",
    "customers_matching",
    "customers_named_exactly",
    "incident_clocks",
    "incident_closure",
    "incident_detail",
    "incident_history",
    "incident_key_metrics",
    "incident_list",
    "incident_rows",
    "incidents_due_for_archive",
    "incidents_newly_stuck",
    "incidents_owned_by",
    "incidents_with_checklist_work",
    "overall_clock_state",
    "overdue_action_items",
    "postmortem_list",
    "postmortem_page",
    "security_clock_state",
    "security_notice_cleared",
    "security_page",
    "survey_answered",
    "tagged",
    "unassigned_incidents",
]
