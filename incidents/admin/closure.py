"""Admin for closure checklist templates and each incident's checklist, with
the close action."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from portal.admin_site import (
    PortalModelAdmin,
    PortalTabularInline,
)

from .. import services
from ..models import (
    ChecklistTemplate,
    ChecklistTemplateItem,
    IncidentChecklist,
    IncidentChecklistItem,
)
from .incidents import IncidentAdmin, ReadOnlyAdmin


class ChecklistTemplateItemInline(PortalTabularInline):
    model = ChecklistTemplateItem
    fields = [
        "position",
        "group",
        "text",
        "is_required",
        "condition",
        "evidence",
        "audience",
        "wait_hours",
        "is_active",
    ]
    extra = 0


@admin.register(ChecklistTemplate)
class ChecklistTemplateAdmin(PortalModelAdmin):
    list_display = [
        "name",
        "policy",
        "condition",
        "attaches_on_resolve",
        "gates_closed_pending",
        "is_active",
    ]
    list_filter = ["policy", "condition", "is_active"]
    list_select_related = ["policy"]
    search_fields = ["name"]
    autocomplete_fields = ["policy"]
    inlines = [ChecklistTemplateItemInline]


class IncidentChecklistItemInline(PortalTabularInline):
    model = IncidentChecklistItem
    fields = [
        "group",
        "text",
        "state",
        "settled_by",
        "settled_at",
        "evidence_text",
        "not_applicable_reason",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(IncidentChecklist)
class IncidentChecklistAdmin(ReadOnlyAdmin):
    """Worked on the incident's Closure tab, where each change is recorded."""

    list_display = ["name", "incident", "attached_at"]
    list_select_related = ["incident"]
    search_fields = ["=incident__id", "name"]
    autocomplete_fields = ["incident", "template"]
    inlines = [IncidentChecklistItemInline]


@admin.action(
    description="Close the selected incidents (each must pass its checklist)",
    permissions=["close"],
)
def close_selected_incidents(modeladmin, request, queryset):
    closed, refused = 0, []
    for incident in queryset:
        try:
            services.close_incident(incident=incident, actor=request.user)
        except ValidationError as exc:
            refused.append(f"{incident.reference}: {' '.join(exc.messages)}")
        else:
            closed += 1
    if closed:
        modeladmin.message_user(request, f"{closed} closed.", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.ERROR)


def _has_close_permission(self, request):
    return request.user.has_perm("incidents.change_incident_status")


# Status never changes by editing the row here (the admin is read-only);
# closing from the admin is this action, through the same close guard.
IncidentAdmin.actions = [*IncidentAdmin.actions, close_selected_incidents]


IncidentAdmin.has_close_permission = _has_close_permission


IncidentAdmin.list_filter = [*IncidentAdmin.list_filter, "archived_at"]
