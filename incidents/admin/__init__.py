"""The incidents app's admin, one module per capability.

Importing this package registers every model admin.
"""

from .closure import (
    ChecklistTemplateAdmin,
    ChecklistTemplateItemInline,
    IncidentChecklistAdmin,
    IncidentChecklistItemInline,
    close_selected_incidents,
)
from .customers import CustomerAdmin
from .incidents import (
    IncidentAdmin,
    ReadOnlyAdmin,
    StaffProfileAdmin,
    TimelineEventAdmin,
    TimelineEventInline,
)
from .plans import (
    CommunicationPlanTemplateAdmin,
    CommunicationPlanTemplateRowInline,
    CommunicationPlanTemplateSectionAdmin,
    CommunicationPlanTemplateSectionInline,
)
from .policy import (
    BusinessCalendarAdmin,
    CategoryAdmin,
    HolidayInline,
    PolicyAdmin,
    PolicyAdminForm,
    PolicyTargetInline,
    SeverityCriterionInline,
    SignalAdmin,
)
from .postmortems import (
    PostMortemActionInline,
    PostMortemAdmin,
    PostMortemTimelineRowInline,
)
from .security import (
    RegulatoryRegimeAdmin,
    SecurityContactAdmin,
    SecurityPhaseInline,
    SecurityResponseAdmin,
)

__all__ = [
    "BusinessCalendarAdmin",
    "CategoryAdmin",
    "ChecklistTemplateAdmin",
    "ChecklistTemplateItemInline",
    "CommunicationPlanTemplateAdmin",
    "CommunicationPlanTemplateRowInline",
    "CommunicationPlanTemplateSectionAdmin",
    "CommunicationPlanTemplateSectionInline",
    "CustomerAdmin",
    "HolidayInline",
    "IncidentAdmin",
    "IncidentChecklistAdmin",
    "IncidentChecklistItemInline",
    "PolicyAdmin",
    "PolicyAdminForm",
    "PolicyTargetInline",
    "PostMortemActionInline",
    "PostMortemAdmin",
    "PostMortemTimelineRowInline",
    "ReadOnlyAdmin",
    "RegulatoryRegimeAdmin",
    "SecurityContactAdmin",
    "SecurityPhaseInline",
    "SecurityResponseAdmin",
    "SeverityCriterionInline",
    "SignalAdmin",
    "StaffProfileAdmin",
    "TimelineEventAdmin",
    "TimelineEventInline",
    "close_selected_incidents",
]
