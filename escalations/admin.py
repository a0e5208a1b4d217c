"""Admin pages of the escalations app, one block per subject."""

from django.contrib import admin

from incidents.admin import ReadOnlyAdmin
from incidents.admin_forms import FriendlyFieldsMixin
from portal.admin_site import PortalModelAdmin

from .forms.routing import BoundedKeysMultipleChoiceField

# --- Escalation routing (issue 11) ------------------------------------------
from .models import (
    BugReport,
    Escalation,
    EscalationFiring,
    EscalationRule,
    PreEscalationCheck,
    Tier,
)
from .models.routing import SEED_PRECEDENCE_HELP


class BoundedKeysMixin:
    """Many-to-many boxes that refuse out-of-range keys with a message."""

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", BoundedKeysMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(Tier)
class TierAdmin(BoundedKeysMixin, FriendlyFieldsMixin, PortalModelAdmin):
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
            {"fields": ["policy", "key", "name", "position", "handles", "is_active"]},
        ),
        (
            "Targets",
            {
                "description": SEED_PRECEDENCE_HELP,
                "fields": [
                    "response_target_minutes",
                    "response_target_note",
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
                    "on_call_top_priority_only",
                    "on_call_contact",
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
class EscalationRuleAdmin(BoundedKeysMixin, FriendlyFieldsMixin, PortalModelAdmin):
    list_display = [
        "name",
        "policy",
        "source",
        "needs_approval",
        "urgency",
        "is_time_based",
        "is_active",
    ]
    list_filter = ["policy", "is_time_based", "needs_approval", "is_active"]
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
