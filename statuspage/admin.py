"""Admin of the status pages: pages and their components, maintenance
windows, and the subscribers (read and unsubscribe only)."""

from django.contrib import admin, messages
from django.utils import timezone

from portal.admin_site import PortalModelAdmin, PortalTabularInline

from .models import (
    Component,
    ComponentGroup,
    Impact,
    Publication,
    PublicStatus,
    PublicUpdate,
    StatusPage,
    Subscriber,
)


class ComponentGroupInline(PortalTabularInline):
    model = ComponentGroup
    extra = 0


class ComponentInline(PortalTabularInline):
    model = Component
    extra = 1
    fields = ["name", "group", "description", "position", "categories", "is_active"]


@admin.register(StatusPage)
class StatusPageAdmin(PortalModelAdmin):
    list_display = ["name", "slug", "policy", "host", "is_live", "updated_at"]
    list_filter = ["is_live"]
    list_select_related = ["policy"]
    search_fields = ["name", "slug", "host"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ComponentGroupInline, ComponentInline]
    readonly_fields = ["updated_at"]


def _page_changed(page_id: int) -> None:
    """The public page is cached by its last change: say it changed."""
    StatusPage.objects.filter(pk=page_id).update(updated_at=timezone.now())


class MarksPageChanged:
    """Deleting a page's rows changes what its cached page shows."""

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        _page_changed(obj.page_id)

    def delete_queryset(self, request, queryset):
        pages = set(queryset.values_list("page_id", flat=True))
        super().delete_queryset(request, queryset)
        for page_id in pages:
            _page_changed(page_id)


@admin.register(Component)
class ComponentAdmin(MarksPageChanged, PortalModelAdmin):
    """Components with the incident categories that point at them."""

    list_display = ["name", "page", "group", "position", "is_active"]
    list_filter = ["page", "is_active"]
    list_select_related = ["page", "group"]
    search_fields = ["name"]
    filter_horizontal = ["categories"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        _page_changed(obj.page_id)


class MaintenanceUpdateInline(PortalTabularInline):
    model = PublicUpdate
    extra = 0
    # The public sees a window only with its notice.
    min_num = 1
    fields = ["status", "body", "components", "posted_at"]
    readonly_fields = ["posted_at"]

    def has_change_permission(self, request, obj=None):
        # What the public read stays as they read it; post a new update.
        return False


@admin.register(Publication)
class PublicationAdmin(MarksPageChanged, PortalModelAdmin):
    """Maintenance windows are written here; incidents are published from
    their own page (the Status page card), through the message rules."""

    list_display = ["title", "page", "kind", "status", "impact", "starts_at", "ends_at"]
    list_filter = ["page", "kind", "status"]
    list_select_related = ["page"]
    search_fields = ["title"]
    fields = ["page", "title", "components", "status", "starts_at", "ends_at"]
    filter_horizontal = ["components"]
    inlines = [MaintenanceUpdateInline]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.kind == Publication.Kind.INCIDENT:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        obj.kind = Publication.Kind.MAINTENANCE
        obj.impact = Impact.MAINTENANCE
        if obj.status not in (
            PublicStatus.SCHEDULED,
            PublicStatus.IN_PROGRESS,
            PublicStatus.COMPLETED,
        ):
            obj.status = PublicStatus.SCHEDULED
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        _page_changed(obj.page_id)

    def save_formset(self, request, form, formset, change):
        updates = formset.save(commit=False)
        for update in updates:
            update.impact = Impact.MAINTENANCE
            update.created_by = request.user
            update.posted_at = timezone.now()
            update.save()
        formset.save_m2m()


@admin.register(Subscriber)
class SubscriberAdmin(PortalModelAdmin):
    list_display = [
        "email",
        "page",
        "created_at",
        "confirmed_at",
        "unsubscribed_at",
        "bounced_at",
    ]
    list_filter = ["page"]
    list_select_related = ["page"]
    search_fields = ["email"]
    fields = list_display
    readonly_fields = list_display
    actions = ["unsubscribe"]

    def has_add_permission(self, request):
        # Only the person may subscribe: the double opt-in is theirs.
        return False

    @admin.action(description="Unsubscribe the selected addresses")
    def unsubscribe(self, request, queryset):
        count = queryset.filter(unsubscribed_at__isnull=True).update(
            unsubscribed_at=timezone.now()
        )
        self.message_user(request, f"{count} unsubscribed.", messages.SUCCESS)
