from django.contrib import admin
from import_export.admin import ImportExportModelAdmin

from .models import (
    BusinessCalendar,
    Category,
    Customer,
    Holiday,
    Incident,
    Policy,
    PolicyTarget,
    SeverityCriterion,
    Signal,
    StaffProfile,
    TimelineEvent,
)
from .resources import CustomerResource


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "working_weekdays"]
    search_fields = ["name"]
    inlines = [HolidayInline]


class SeverityCriterionInline(admin.TabularInline):
    model = SeverityCriterion
    fields = ["priority", "text", "position", "is_active"]
    extra = 0
    verbose_name_plural = (
        "Severity criteria (the incident form suggests the highest priority "
        "among those ticked)"
    )


class PolicyTargetInline(admin.TabularInline):
    model = PolicyTarget
    extra = 0
    max_num = 4


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
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
    inlines = [PolicyTargetInline, SeverityCriterionInline]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "position"]
    list_editable = ["is_active", "position"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Signal)
class SignalAdmin(admin.ModelAdmin):
    list_display = ["code", "description", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "description"]


@admin.register(Customer)
class CustomerAdmin(ImportExportModelAdmin):
    list_display = [
        "name",
        "company",
        "email",
        "account_id",
        "segment",
        "account_status",
        "is_vip",
        "policy",
    ]
    list_filter = [
        "segment",
        "account_status",
        "relationship_status",
        "is_vip",
        "policy",
    ]
    list_select_related = ["policy"]
    search_fields = ["=account_id", "name", "=email", "company"]
    autocomplete_fields = ["policy", "success_manager"]
    show_full_result_count = False
    resource_classes = [CustomerResource]
    fieldsets = [
        (None, {"fields": ["name", "email", "account_id", "policy"]}),
        (
            "Account",
            {
                "fields": [
                    "segment",
                    "account_status",
                    "is_vip",
                    "customer_since_on",
                    "phone",
                    "old_carrier_account",
                    "time_zone",
                ]
            },
        ),
        (
            "Organisation and contract",
            {
                "fields": [
                    "company",
                    "contact_name",
                    "contact_title",
                    "package_level",
                    ("annual_contract_value", "contract_currency"),
                    "relationship_status",
                    "success_manager",
                    "renewal_on",
                ]
            },
        ),
    ]

    def get_export_resource_kwargs(self, request, **kwargs):
        return {
            **super().get_export_resource_kwargs(request, **kwargs),
            "full_account_numbers": request.user.has_perm(
                "incidents.view_full_account_numbers"
            ),
        }


class TimelineEventInline(admin.TabularInline):
    model = TimelineEvent
    fields = ["created_at", "kind", "actor", "details"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
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
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "time_zone"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]
