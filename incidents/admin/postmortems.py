"""Admin for post-mortems."""

from django.contrib import admin

from portal.admin_site import (
    PortalModelAdmin,
    PortalTabularInline,
)

from ..models import (
    ActionItem,
    PostMortem,
    PostMortemTimelineRow,
)


class PostMortemTimelineRowInline(PortalTabularInline):
    model = PostMortemTimelineRow
    fields = ["at", "text", "milestone", "is_hidden", "is_edited"]
    readonly_fields = ["milestone", "is_edited"]
    extra = 0


class PostMortemActionInline(PortalTabularInline):
    model = ActionItem
    fk_name = "postmortem"
    fields = ["what", "kind", "owner", "due_at", "status"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PostMortem)
class PostMortemAdmin(PortalModelAdmin):
    """Read and correct post-mortems; review and publication happen on the page."""

    list_display = ["incident", "scheduled_on", "status", "created_at"]
    list_filter = ["status", "is_security_review"]
    search_fields = ["incident__title", "summary", "attendees"]
    list_select_related = ["incident"]
    readonly_fields = [
        "incident",
        "status",
        "created_by",
        "submitted_by",
        "submitted_at",
        "published_by",
        "published_at",
        "created_at",
        "updated_at",
    ]
    inlines = [PostMortemTimelineRowInline, PostMortemActionInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
