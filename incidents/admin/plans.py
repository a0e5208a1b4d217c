"""Admin for communication plan templates."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from portal.admin_site import (
    PortalModelAdmin,
    PortalTabularInline,
)

from ..models import (
    CommunicationPlanTemplate,
    CommunicationPlanTemplateRow,
    CommunicationPlanTemplateSection,
    PlanSection,
)


class CommunicationPlanTemplateSectionInline(PortalTabularInline):
    model = CommunicationPlanTemplateSection
    fields = ["section", "heading", "guidance", "position", "rows_link"]
    readonly_fields = ["rows_link"]
    extra = 0
    max_num = len(PlanSection.choices)

    @admin.display(description="Default rows")
    def rows_link(self, section):
        if not section.pk:
            return "Save first, then add rows."
        return format_html(
            '<a href="{}">Edit rows</a>',
            reverse(
                "admin:incidents_communicationplantemplatesection_change",
                args=[section.pk],
            ),
        )


@admin.register(CommunicationPlanTemplate)
class CommunicationPlanTemplateAdmin(PortalModelAdmin):
    """The plan new major incidents start from: sections and default rows."""

    list_display = ["name", "category", "review_cycle", "is_default"]
    list_filter = ["is_default"]
    search_fields = ["name"]
    inlines = [CommunicationPlanTemplateSectionInline]


class CommunicationPlanTemplateRowInline(PortalTabularInline):
    model = CommunicationPlanTemplateRow
    fields = ["position", "item", "details", "owner", "key"]
    extra = 1


@admin.register(CommunicationPlanTemplateSection)
class CommunicationPlanTemplateSectionAdmin(PortalModelAdmin):
    list_display = ["heading", "template", "section", "position"]
    list_filter = ["template"]
    list_select_related = ["template"]
    search_fields = ["heading"]
    inlines = [CommunicationPlanTemplateRowInline]
