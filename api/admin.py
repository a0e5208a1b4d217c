"""API tokens: issued here (the token is shown once), revoked, last use shown."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from portal.admin_site import PortalModelAdmin

from . import services
from .forms import ApiTokenForm
from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(PortalModelAdmin):
    """Only the token's hash is stored: its text is shown once, on saving."""

    form = ApiTokenForm
    list_display = [
        "name",
        "user",
        "shown_prefix",
        "scope",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["name", "=prefix", "user__username"]
    autocomplete_fields = ["user"]
    readonly_fields = [
        "shown_prefix",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]
    actions = ["revoke"]

    @admin.display(description="Token", ordering="prefix")
    def shown_prefix(self, token):
        return f"sbt_{token.prefix}…" if token.prefix else "—"

    def get_readonly_fields(self, request, obj=None):
        # A token's person and powers are fixed once issued: a new token is
        # issued instead, so nobody widens one already handed out.
        if obj is not None:
            return [*self.readonly_fields, "user", "scope"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token, text = services.issue_api_token(
            user=obj.user,
            name=obj.name,
            scope=obj.scope,
            expires_at=obj.expires_at,
            actor=request.user,
        )
        # The admin logs the addition and links to the saved row.
        obj.pk, obj.prefix, obj.created_at = token.pk, token.prefix, token.created_at
        self.message_user(
            request,
            format_html(
                "Token for {} ({}): <code>{}</code> — copy it now; it is not "
                "shown again. Send it as <code>Authorization: Bearer …</code> "
                "to /api/v1/.",
                token.user,
                token.get_scope_display().lower(),
                text,
            ),
            messages.WARNING,
        )

    @admin.action(description="Revoke (stops working at once)")
    def revoke(self, request, queryset):
        for token in queryset:
            try:
                services.revoke_api_token(token=token, actor=request.user)
            except ValidationError as exc:
                self.message_user(
                    request, f"{token}: {' '.join(exc.messages)}", messages.ERROR
                )
            else:
                self.log_change(request, token, "Revoked.")
                self.message_user(request, f"{token} revoked.", messages.SUCCESS)
