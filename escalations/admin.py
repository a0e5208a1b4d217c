"""Admin pages of the escalations app, one block per subject."""

from django.contrib import admin

from incidents.admin import ReadOnlyAdmin
from incidents.admin_forms import FriendlyFieldsMixin
from portal.admin_site import PortalModelAdmin, PortalTabularInline

from .models import (
    SEED_PRECEDENCE_HELP,
    ApprovalLimit,
    BugReport,
    CreditPolicy,
    CreditRequest,
    CurrencyRate,
    Escalation,
    EscalationFiring,
    EscalationRule,
    MetricTarget,
    PageDelivery,
    PreEscalationCheck,
    Review,
    ReviewAction,
    Tier,
)
from .models.credits import APPROVAL_LIMIT_HELP

# --- Escalation routing -----------------------------------------------------


@admin.register(Tier)
class TierAdmin(FriendlyFieldsMixin, PortalModelAdmin):
    list_display = [
        "name",
        "policy",
        "position",
        "response_target_minutes",
        "reminder_minutes",
        "has_on_call",
        "chat_channel",
        "is_active",
    ]
    list_filter = ["policy", "is_active", "has_on_call"]
    list_select_related = ["policy"]
    search_fields = ["name", "key", "handles"]
    autocomplete_fields = ["policy"]
    filter_horizontal = ["members", "member_groups"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "policy",
                    "key",
                    "name",
                    "position",
                    "next_up",
                    "handles",
                    "is_active",
                ]
            },
        ),
        (
            "Targets",
            {
                "description": SEED_PRECEDENCE_HELP,
                "fields": [
                    "response_target_minutes",
                    "response_target_note",
                    "p1_response_target_minutes",
                    "customer_update_minutes",
                    "reminder_minutes",
                ],
            },
        ),
        (
            "Hours and on-call",
            {
                "fields": [
                    "working_hours",
                    "time_zone",
                    "has_on_call",
                    "pages_on_call_for_p1",
                    "on_call_top_priority_only",
                    "on_call_contact",
                    "pager",
                    "pager_key",
                    "pager_url",
                ]
            },
        ),
        (
            "Members and routing",
            {
                "fields": [
                    "members",
                    "member_groups",
                    "chat_channel",
                    "tag",
                    "default_path",
                ]
            },
        ),
    ]


@admin.register(EscalationRule)
class EscalationRuleAdmin(FriendlyFieldsMixin, PortalModelAdmin):
    list_display = [
        "name",
        "policy",
        "source",
        "needs_approval",
        "urgency",
        "is_time_based",
        "is_active",
    ]
    list_filter = [
        "policy",
        "is_time_based",
        "needs_approval",
        "stops_customer_contact",
        "is_active",
    ]
    list_select_related = ["policy"]
    search_fields = ["name", "key", "source"]
    autocomplete_fields = ["policy", "category", "at_tier"]
    filter_horizontal = ["target_tiers"]


@admin.register(PreEscalationCheck)
class PreEscalationCheckAdmin(PortalModelAdmin):
    list_display = ["text", "policy", "source", "position", "is_active"]
    list_filter = ["policy", "is_active"]
    list_select_related = ["policy"]
    search_fields = ["text"]
    autocomplete_fields = ["policy"]


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    """Read-only: escalations move through the portal's pages and services."""

    list_display = ["__str__", "path", "status", "urgency", "created_at"]
    list_filter = ["status", "path", "urgency", "to_tier__policy"]
    list_select_related = ["incident", "to_tier"]
    search_fields = ["summary"]
    autocomplete_fields = ["incident"]


@admin.register(BugReport)
class BugReportAdmin(ReadOnlyAdmin):
    list_display = ["title", "tracker_key", "severity", "priority", "created_at"]
    list_filter = ["severity", "priority"]
    list_select_related = ["escalation"]
    search_fields = ["title", "tracker_key"]
    autocomplete_fields = ["escalation"]


@admin.register(EscalationFiring)
class EscalationFiringAdmin(ReadOnlyAdmin):
    list_display = ["key", "kind", "fired_at"]
    list_filter = ["kind"]
    list_select_related = ["incident"]
    search_fields = ["key"]
    autocomplete_fields = ["incident"]


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


# --- Metrics and reviews ----------------------------------------------------


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


@admin.register(PageDelivery)
class PageDeliveryAdmin(ReadOnlyAdmin):
    """Every call to a tier's pager, with the answer it got."""

    list_display = [
        "dedup_key",
        "action",
        "tier",
        "status",
        "attempts",
        "response_code",
        "last_error",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "action", "tier"]
    list_select_related = ["tier__policy"]
    search_fields = ["dedup_key"]
