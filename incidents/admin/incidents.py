"""Admin for incidents, their read-only timeline, and staff time zones."""

from django.contrib import admin

from portal.admin_site import (
    PortalModelAdmin,
    PortalTabularInline,
)

from ..admin_forms import FriendlyFieldsMixin
from ..models import (
    Incident,
    StaffProfile,
    TimelineEvent,
)


class TimelineEventInline(PortalTabularInline):
    model = TimelineEvent
    fields = ["created_at", "kind", "actor", "details"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(PortalModelAdmin):
    """Viewable in the admin, changed only through the portal's services."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    """Read-only here: incidents change through the portal's own pages, which
    keep the timeline complete."""

    list_display = ["__str__", "priority", "status", "customer", "owner", "created_at"]
    list_filter = ["status", "priority", "category"]
    list_select_related = ["customer", "owner"]
    search_fields = ["title", "=customer__account_id"]
    autocomplete_fields = ["customer", "owner", "created_by"]
    show_full_result_count = False
    inlines = [TimelineEventInline]


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "incident", "kind", "actor"]
    list_filter = ["kind"]
    list_select_related = ["incident", "actor"]
    search_fields = ["=incident__id"]
    autocomplete_fields = ["incident", "actor"]
    show_full_result_count = False


@admin.register(StaffProfile)
class StaffProfileAdmin(FriendlyFieldsMixin, PortalModelAdmin):
    list_display = ["user", "time_zone"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]
