from django.contrib import admin

from portal.admin_site import PortalModelAdmin, PortalTabularInline

from .models import MetricTarget, Review, ReviewAction

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
