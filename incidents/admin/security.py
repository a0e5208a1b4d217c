"""Admin for security response: regulatory regimes, who is told at once, and
each response."""

from django.contrib import admin

from portal.admin_site import (
    PortalModelAdmin,
    PortalTabularInline,
)

from ..admin_forms import FriendlyFieldsMixin
from ..models import (
    RegulatoryRegime,
    SecurityChecklistTemplateItem,
    SecurityContact,
    SecurityPhase,
    SecurityPhaseTemplate,
    SecurityResponse,
)


@admin.register(RegulatoryRegime)
class RegulatoryRegimeAdmin(FriendlyFieldsMixin, PortalModelAdmin):
    """Breach-notification laws a responder can start a clock for."""

    list_display = ["name", "notify_whom", "deadline_text", "is_active", "position"]
    list_filter = ["is_active"]
    search_fields = ["name", "key"]


@admin.register(SecurityContact)
class SecurityContactAdmin(FriendlyFieldsMixin, PortalModelAdmin):
    """Who is told at once of a security incident.

    From the fleet escalation playbook, step 1.

    A flagged incident copies the active contacts; changing them here
    changes the next incident's list, not the lists already made.
    """

    list_display = ["label", "contact", "is_active", "position"]
    list_editable = ["is_active", "position"]
    list_filter = ["is_active"]
    search_fields = ["label", "contact", "key"]


class SecurityChecklistTemplateItemInline(PortalTabularInline):
    model = SecurityChecklistTemplateItem
    fields = ["position", "group", "text"]
    extra = 0


@admin.register(SecurityPhaseTemplate)
class SecurityPhaseTemplateAdmin(FriendlyFieldsMixin, PortalModelAdmin):
    """The phases every security incident runs, with their windows and
    checklists (fleet escalation playbook, steps 1 to 7).

    A flagged incident copies the active phases; changing them here changes
    the next incident's, not the phases already running.
    """

    list_display = [
        "kind",
        "starts_after_minutes",
        "due_after_minutes",
        "is_active",
        "position",
    ]
    list_editable = ["is_active", "position"]
    inlines = [SecurityChecklistTemplateItemInline]


class SecurityPhaseInline(PortalTabularInline):
    model = SecurityPhase
    fields = ["kind", "starts_at", "due_at", "done_at", "done_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SecurityResponse)
class SecurityResponseAdmin(PortalModelAdmin):
    """Security responses, read only: they are worked on the incident's page."""

    list_display = ["incident", "incident_type", "detected_at", "legal_approved_at"]
    list_filter = ["incident_type"]
    list_select_related = ["incident"]
    search_fields = ["incident__title"]
    inlines = [SecurityPhaseInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
