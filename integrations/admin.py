"""Admin of outbound webhooks: endpoints (with their secret, pause and
resume, a test event) and the deliveries, read-only, which can be sent
again."""

import json

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from incidents.admin import ReadOnlyAdmin
from portal.admin_site import PortalModelAdmin

from . import selectors, services
from .forms import WebhookEndpointForm
from .models import WebhookDelivery, WebhookEndpoint, WebhookEvent

EVENT_LABELS = dict(WebhookEvent.choices)
PAUSED_SHOWN = 10


def _each(modeladmin, request, queryset, act, done: str) -> None:
    """Run ``act`` on each selected row; say what worked and what was refused."""
    succeeded = 0
    for obj in queryset:
        try:
            act(obj)
        except ValidationError as exc:
            modeladmin.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, done.format(count=succeeded))


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(PortalModelAdmin):
    form = WebhookEndpointForm
    list_display = [
        "name",
        "url",
        "events_shown",
        "state",
        "consecutive_failures",
        "paused_reason",
        "created_at",
    ]
    list_filter = ["is_active"]
    list_select_related = []  # no relations to follow
    search_fields = ["name", "url"]
    autocomplete_fields = []
    readonly_fields = [
        "secret",
        "state",
        "paused_at",
        "paused_reason",
        "consecutive_failures",
        "created_at",
    ]
    actions = ["rotate_secret", "pause", "resume", "send_test_event"]

    def get_fields(self, request, obj=None):
        fields = ["name", "url", "events"]
        if obj is None:
            # The secret is made when the endpoint is saved.
            return fields
        return [*fields, *self.readonly_fields]

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            for endpoint in selectors.paused_endpoints()[:PAUSED_SHOWN]:
                messages.warning(
                    request,
                    f"{endpoint.name} is paused: {endpoint.paused_reason} Resume "
                    "it (an action below) once its receiver works again.",
                )
        return super().changelist_view(request, extra_context)

    @admin.display(description="Events")
    def events_shown(self, endpoint):
        return ", ".join(EVENT_LABELS.get(name, name) for name in endpoint.events)

    @admin.display(description="State", ordering="is_active")
    def state(self, endpoint):
        if endpoint.is_active:
            return "Active"
        if endpoint.paused_at is None:
            # Saved with "active" unticked: off, never paused.
            return "Off"
        return f"Paused since {endpoint.paused_at:%Y-%m-%d %H:%M}"

    @admin.action(description="Rotate the signing secret")
    def rotate_secret(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda e: services.rotate_secret(endpoint=e, actor=request.user),
            "New secret for {count} endpoint(s): give it to the receiver now.",
        )

    @admin.action(description="Pause (hold deliveries)")
    def pause(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda e: services.pause_endpoint(endpoint=e, actor=request.user),
            "{count} endpoint(s) paused.",
        )

    @admin.action(description="Resume (send held deliveries)")
    def resume(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda e: services.resume_endpoint(endpoint=e, actor=request.user),
            "{count} endpoint(s) resumed; held deliveries go out within a minute.",
        )

    @admin.action(description='Send a test event ("ping")')
    def send_test_event(self, request, queryset):
        _each(
            self,
            request,
            queryset,
            lambda e: services.send_test_event(endpoint=e, actor=request.user),
            "Test event queued for {count} endpoint(s); see the deliveries.",
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Read-only: deliveries are made by events; "Send again" replays one."""

    list_display = [
        "created_at",
        "endpoint",
        "event",
        "incident",
        "status",
        "attempts",
        "response_code",
        "response_ms",
        "next_attempt_at",
        "sent_at",
    ]
    list_filter = ["status", "event", "endpoint"]
    list_select_related = ["endpoint", "incident"]
    search_fields = ["=event_id", "endpoint__name"]
    autocomplete_fields = ["endpoint", "incident"]
    show_full_result_count = False
    fields = [
        "endpoint",
        "incident",
        "event",
        "event_id",
        "status",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "response_code",
        "response_ms",
        "last_error",
        "replay_of",
        "created_at",
        "sent_at",
        "payload_shown",
    ]
    readonly_fields = ["payload_shown"]
    actions = ["send_again"]

    def has_delete_permission(self, request, obj=None):
        # A log of requests, not the incident's history: deleting an
        # endpoint takes its deliveries with it, and needs this.
        return request.user.has_perm("integrations.delete_webhookdelivery")

    @admin.display(description="Payload")
    def payload_shown(self, delivery):
        return format_html("<pre>{}</pre>", json.dumps(delivery.payload, indent=2))

    @admin.action(description="Send again (same event id)")
    def send_again(self, request, queryset):
        _each(
            self,
            request,
            queryset.select_related("endpoint"),
            lambda d: services.send_delivery_again(delivery=d, actor=request.user),
            "{count} delivery(ies) queued again with their event id.",
        )
