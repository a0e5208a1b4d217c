from django.contrib import admin

from portal.admin_site import PortalModelAdmin, PortalTabularInline

from .models import (
    ApprovalLimit,
    CreditPolicy,
    CreditRequest,
    CurrencyRate,
    MetricTarget,
    Review,
    ReviewAction,
)
from .models.credits import APPROVAL_LIMIT_HELP

# Credits ---------------------------------------------------------------------


class CurrencyRateInline(PortalTabularInline):
    model = CurrencyRate
    extra = 0


@admin.register(CreditPolicy)
class CreditPolicyAdmin(PortalModelAdmin):
    list_display = ["policy", "currency", "cap"]
    list_select_related = ["policy"]
    search_fields = ["policy__name"]
    autocomplete_fields = ["policy"]
    inlines = [CurrencyRateInline]


@admin.register(ApprovalLimit)
class ApprovalLimitAdmin(PortalModelAdmin):
    list_display = ["group", "policy", "kind_shown", "max_amount", "currency"]
    list_filter = ["policy", "group", "kind"]
    list_select_related = ["policy", "group"]
    list_editable = ["max_amount"]
    search_fields = ["policy__name", "group__name"]
    autocomplete_fields = ["policy"]
    fields = ["policy", "group", "kind", "currency", "max_amount"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.base_fields["group"].help_text = APPROVAL_LIMIT_HELP
        return form

    @admin.display(description="Kind", ordering="kind")
    def kind_shown(self, limit):
        return limit.get_kind_display() if limit.kind else "Every kind"


@admin.register(CreditRequest)
class CreditRequestAdmin(PortalModelAdmin):
    """Read-only: credits move through their pages, where the service checks
    authority and records the timeline."""

    list_display = [
        "id",
        "incident",
        "customer",
        "kind",
        "amount",
        "currency",
        "status",
        "requested_by",
        "decided_by",
        "requested_at",
    ]
    list_filter = ["status", "kind", "currency"]
    list_select_related = ["incident", "customer", "requested_by", "decided_by"]
    search_fields = ["customer__name", "customer__account_id", "billing_reference"]
    autocomplete_fields = ["incident", "customer"]
    date_hierarchy = "requested_at"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields] + ["evidence_messages"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Metrics and reviews (issue 15) -----------------------------------------


@admin.register(MetricTarget)
class MetricTargetAdmin(PortalModelAdmin):
    list_display = ["policy", "figure", "priority", "target", "note"]
    list_filter = ["policy", "figure"]
    list_editable = ["target"]
    fields = ["policy", "figure", "priority", "target", "note"]


class ReviewActionInline(PortalTabularInline):
    model = ReviewAction
    extra = 0
    autocomplete_fields = ["owner"]


@admin.register(Review)
class ReviewAdmin(PortalModelAdmin):
    list_display = ["kind", "policy", "period_start_on", "period_end_on", "held_by"]
    list_filter = ["kind", "policy"]
    date_hierarchy = "period_end_on"
    inlines = [ReviewActionInline]
    autocomplete_fields = ["held_by"]
