from django.contrib import admin

from portal.admin_site import PortalModelAdmin, PortalTabularInline

from .models import (
    BusinessCalendar,
    Category,
    Customer,
    Holiday,
    Incident,
    Policy,
    PolicyTarget,
    Signal,
    StaffProfile,
    TimelineEvent,
)


class HolidayInline(PortalTabularInline):
    model = Holiday
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(PortalModelAdmin):
    list_display = ["name", "time_zone", "working_weekdays"]
    search_fields = ["name"]
    inlines = [HolidayInline]


class PolicyTargetInline(PortalTabularInline):
    model = PolicyTarget
    extra = 0
    max_num = 4


@admin.register(Policy)
class PolicyAdmin(PortalModelAdmin):
    list_display = [
        "name",
        "is_default",
        "calendar",
        "enterprise_response_factor",
        "trial_response_factor",
        "at_risk_minutes",
    ]
    list_filter = ["is_default"]
    list_select_related = ["calendar"]
    search_fields = ["name"]
    autocomplete_fields = ["calendar"]
    inlines = [PolicyTargetInline]


@admin.register(Category)
class CategoryAdmin(PortalModelAdmin):
    list_display = ["name", "slug", "is_active", "position"]
    list_editable = ["is_active", "position"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Signal)
class SignalAdmin(PortalModelAdmin):
    list_display = ["code", "description", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "description"]


@admin.register(Customer)
class CustomerAdmin(PortalModelAdmin):
    list_display = ["name", "email", "account_id", "segment", "is_vip", "policy"]
    list_filter = ["segment", "is_vip", "policy"]
    list_select_related = ["policy"]
    search_fields = ["=account_id", "name", "=email"]
    autocomplete_fields = ["policy"]
    show_full_result_count = False


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
class StaffProfileAdmin(PortalModelAdmin):
    list_display = ["user", "time_zone"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]
