import difflib

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from incidents.admin import ReadOnlyAdmin
from incidents.models import Incident
from incidents.selectors import REFERENCE_PATTERN
from portal.admin_site import PortalModelAdmin, PortalTabularInline
from portal.forms import MESSAGE_MAX_LENGTH, PortalModelForm

from . import services
from .catalogue import CATALOGUE, reader_context
from .models import (
    Audience,
    Channel,
    ChatRoute,
    DeliveryRule,
    ExternalParty,
    FollowUpLoop,
    InboundMail,
    Message,
    MessageTemplate,
    MessageTemplateVersion,
    MonitoringIntegration,
    Reply,
    SignalReceipt,
)


class MessageTemplateForm(PortalModelForm):
    """Template settings plus its wording; saving new wording makes a version."""

    subject = forms.CharField(
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"size": 100}),
        help_text="One line; leave empty for chat messages and notes.",
    )
    body = forms.CharField(
        max_length=MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(
            attrs={"rows": 20, "cols": 100, "class": "vLargeTextField"}
        ),
        help_text="Jinja2: {{ incident.title }}, {% if … %}…{% endif %}. Only the "
        "variables listed below are available.",
    )

    class Meta:
        model = MessageTemplate
        fields = [
            "key",
            "name",
            "description",
            "audience",
            "channel",
            "stage",
            "follow_up_from",
            "follow_up_to",
            "priority",
            "category",
            "situation",
            "is_active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.current_version if self.instance.pk else None
        if current and not self.is_bound:
            self.initial["subject"] = current.subject
            self.initial["body"] = current.body

    def clean(self):
        data = super().clean()
        if "body" in data:
            try:
                services.check_template_source(
                    subject=data.get("subject", ""),
                    body=data["body"],
                    audience=data.get("audience", ""),
                )
            except ValidationError as exc:
                self.add_error(None, exc)
        return data


class VersionInline(PortalTabularInline):
    model = MessageTemplateVersion
    fields = ["number", "created_at", "created_by", "subject", "compare"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-number"]
    verbose_name_plural = "History (every saved wording; messages keep theirs)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Compare")
    def compare(self, version):
        if version.pk is None:
            # A row a tampered form count adds; there is nothing to compare.
            return "—"
        if version.number == 1:
            return "first version"
        url = reverse("admin:comms_messagetemplate_diff", args=[version.template_id])
        return format_html(
            '<a href="{}?a={}&amp;b={}">changes from v{}</a>',
            url,
            version.number - 1,
            version.number,
            version.number - 1,
        )


@admin.register(MessageTemplate)
class MessageTemplateAdmin(PortalModelAdmin):
    form = MessageTemplateForm
    list_display = [
        "name",
        "key",
        "stage",
        "audience",
        "channel",
        "follow_up_range",
        "situation",
        "priority",
        "is_active",
        "version_number",
    ]
    list_filter = ["stage", "audience", "channel", "situation", "is_active"]
    list_select_related = ["current_version", "category"]
    search_fields = ["name", "key", "description"]
    autocomplete_fields = ["category"]
    inlines = [VersionInline]
    change_form_template = "admin/comms/messagetemplate/change_form.html"
    fieldsets = [
        (None, {"fields": ["name", "key", "description", "is_active"]}),
        (
            "When it is used",
            {
                "fields": [
                    ("stage", "audience", "channel"),
                    ("follow_up_from", "follow_up_to"),
                    ("priority", "category", "situation"),
                ],
                "description": "The most specific active template that matches a "
                "message's stage, audience, channel, follow-up number and filters "
                "is the one used.",
            },
        ),
        ("Wording", {"fields": ["subject", "body"]}),
    ]

    @admin.display(description="Follow-ups")
    def follow_up_range(self, template):
        if template.follow_up_from is None:
            return "any"
        if template.follow_up_to is None:
            return f"{template.follow_up_from}+"
        if template.follow_up_to == template.follow_up_from:
            return str(template.follow_up_from)
        return f"{template.follow_up_from}–{template.follow_up_to}"

    @admin.display(description="Version")
    def version_number(self, template):
        return template.current_version.number if template.current_version else "—"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        before = obj.current_version_id
        version = services.revise_template(
            template=obj,
            subject=form.cleaned_data.get("subject", ""),
            body=form.cleaned_data["body"],
            actor=request.user,
        )
        if version.pk != before:
            self.message_user(
                request, f"Saved as version {version.number}.", messages.SUCCESS
            )

    def get_urls(self):
        return [
            path(
                "<int:pk>/diff/",
                self.admin_site.admin_view(self.diff_view),
                name="comms_messagetemplate_diff",
            ),
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="comms_messagetemplate_preview",
            ),
            path(
                "preview-wording/",
                self.admin_site.admin_view(self.preview_wording_view),
                name="comms_messagetemplate_preview_wording",
            ),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, *args, **kwargs):
        context["catalogue"] = sorted(CATALOGUE.items())
        return super().render_change_form(request, context, *args, **kwargs)

    def diff_view(self, request, pk):
        template = get_object_or_404(MessageTemplate, pk=pk)
        versions = {v.number: v for v in template.versions.all()}
        try:
            old = versions[int(request.GET.get("a", 0))]
            new = versions[int(request.GET.get("b", 0))]
        except (KeyError, ValueError):
            messages.error(request, "Pick two versions of this template.")
            old = new = template.current_version
        table = difflib.HtmlDiff(wrapcolumn=70).make_table(
            f"Subject: {old.subject}\n\n{old.body}".splitlines(),
            f"Subject: {new.subject}\n\n{new.body}".splitlines(),
            fromdesc=f"Version {old.number}",
            todesc=f"Version {new.number}",
            context=True,
        )
        return TemplateResponse(
            request,
            "admin/comms/messagetemplate/diff.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": template,
                "title": f"Changes in “{template}”",
                "diff_table": table,
            },
        )

    def preview_view(self, request, pk):
        template = get_object_or_404(
            MessageTemplate.objects.select_related("current_version"), pk=pk
        )
        reference = request.GET.get("incident", "").strip()
        rendered = error = None
        incident, error = _incident_by_reference(reference)
        if incident is not None:
            context = reader_context(
                request,
                incident,
                audience=template.audience,
                follow_up_number=template.follow_up_from or 1,
            )
            try:
                rendered = services.preview_template(
                    version=template.current_version, context=context
                )
            except ValidationError as exc:
                error = " ".join(exc.messages)
        return TemplateResponse(
            request,
            "admin/comms/messagetemplate/preview.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": template,
                "title": f"Preview “{template}”",
                "reference": reference,
                "incident": incident,
                "rendered": rendered,
                "error": error,
            },
        )

    @method_decorator(require_POST)
    def preview_wording_view(self, request):
        """Render the wording in the change form, unsaved, against an incident.

        The form's own "Preview" button posts here (into a new tab), so the
        administrator sees the text as a reader would before saving it.
        """
        if not (
            self.has_change_permission(request) or self.has_add_permission(request)
        ):
            raise PermissionDenied
        form = WordingPreviewForm(request.POST)
        form.is_valid()
        data = form.cleaned_data
        subject, body = data.get("subject", ""), data.get("body", "")
        audience = data.get("audience") or Audience.CUSTOMER
        reference = data.get("preview_incident", "")
        problems: list[str] = []
        rendered = None
        if form.errors:
            problems += [
                f"{form.fields[name].label}: {message}"
                if name != "__all__"
                else message
                for name, messages_ in form.errors.items()
                for message in messages_
            ]
        else:
            try:
                services.check_template_source(
                    subject=subject, body=body, audience=audience
                )
            except ValidationError as exc:
                problems += _labelled_messages(exc)
        incident, missing = _incident_by_reference(reference or "")
        if not reference:
            missing = "Give an incident number such as INC-00042 to render against."
        if missing:
            problems.append(missing)
        if incident is not None and not problems:
            context = reader_context(
                request,
                incident,
                audience=audience,
                follow_up_number=data.get("follow_up_from") or 1,
            )
            try:
                rendered = services.preview_template(
                    version=MessageTemplateVersion(subject=subject, body=body),
                    context=context,
                )
            except ValidationError as exc:
                problems += exc.messages
        return TemplateResponse(
            request,
            "admin/comms/messagetemplate/preview_wording.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Preview of the unsaved wording",
                "reader": "the team"
                if audience == Audience.INTERNAL
                else f"the {Audience(audience).label.lower()}",
                "channel": Channel(data.get("channel") or Channel.EMAIL).label,
                "reference": reference,
                "incident": incident,
                "rendered": rendered,
                "problems": problems,
            },
        )


class WordingPreviewForm(forms.Form):
    """The fields of the template form that a preview needs."""

    subject = forms.CharField(required=False, max_length=300)
    body = forms.CharField(required=False, max_length=20_000)
    audience = forms.ChoiceField(choices=Audience.choices, required=False)
    channel = forms.ChoiceField(choices=Channel.choices, required=False)
    follow_up_from = forms.IntegerField(
        required=False, min_value=1, max_value=99, label="Follow-up from"
    )
    preview_incident = forms.CharField(required=False, max_length=20, label="Incident")


def _incident_by_reference(reference: str) -> tuple[Incident | None, str | None]:
    """Return the incident named "INC-00042" (or "42"), or why there is none."""
    if not reference:
        return None, None
    match = REFERENCE_PATTERN.match(reference)
    if not match:
        return None, "Give an incident number such as INC-00042."
    incident = (
        Incident.objects.select_related(
            "customer__success_manager", "category", "signal", "owner"
        )
        .filter(pk=int(match.group(1)))
        .first()
    )
    if incident is None:
        return None, f"There is no incident {reference}."
    return incident, None


def _labelled_messages(exc: ValidationError) -> list[str]:
    """Return each message of ``exc`` prefixed by the field it is about."""
    if not hasattr(exc, "error_dict"):
        return exc.messages
    return [
        f"{field.capitalize()}: {message}"
        for field, errors in exc.message_dict.items()
        for message in errors
    ]


@admin.register(ExternalParty)
class ExternalPartyAdmin(PortalModelAdmin):
    list_display = ["name", "kind", "support_email", "escalation_email", "ack_hours"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "support_email", "account_ref"]


@admin.register(ChatRoute)
class ChatRouteAdmin(PortalModelAdmin):
    list_display = ["channel_name", "ping", "priority", "is_systemic", "category"]
    list_filter = ["priority", "is_systemic", "category"]
    list_select_related = ["category"]
    search_fields = ["channel_name", "ping"]
    autocomplete_fields = ["category"]
    # A webhook address typed without a scheme is an https one.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(DeliveryRule)
class DeliveryRuleAdmin(PortalModelAdmin):
    list_display = ["audience", "priority", "is_systemic", "mode"]
    list_filter = ["audience", "mode"]
    search_fields = ["audience"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "incident",
        "status",
        "attempts",
        "created_at",
        "sent_at",
    ]
    list_filter = ["status", "audience", "channel", "stage"]
    list_select_related = ["incident"]
    search_fields = ["=incident__id", "subject"]
    show_full_result_count = False


@admin.register(Reply)
class ReplyAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "incident", "sender_kind", "kind", "received_at"]
    list_filter = ["sender_kind", "kind"]
    list_select_related = ["incident"]
    search_fields = ["=incident__id", "text"]
    show_full_result_count = False


# --- Automation: loops, inbound mail, monitoring integrations ---


@admin.register(FollowUpLoop)
class FollowUpLoopAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "audience",
        "priority",
        "cadence_minutes",
        "next_due_at",
        "sent_count",
        "unanswered_count",
        "stopped_at",
    ]
    list_filter = ["audience", "priority"]
    list_select_related = ["incident", "party"]
    search_fields = ["=incident__id", "party__name"]
    show_full_result_count = False


@admin.register(InboundMail)
class InboundMailAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "status", "matched_by", "incident", "received_at"]
    list_filter = ["status", "source"]
    list_select_related = ["incident"]
    search_fields = ["from_address", "subject", "=incident__id"]
    show_full_result_count = False


@admin.register(SignalReceipt)
class SignalReceiptAdmin(ReadOnlyAdmin):
    list_display = [
        "signal",
        "dedup_key",
        "status",
        "incident",
        "opened_incident",
        "received_at",
    ]
    list_filter = ["status", "opened_incident", "signal"]
    list_select_related = ["signal", "incident"]
    search_fields = ["dedup_key", "=incident__id"]
    show_full_result_count = False


class MonitoringIntegrationForm(PortalModelForm):
    class Meta:
        model = MonitoringIntegration
        fields = ["name", "is_active", "rate_limit_per_minute"]


@admin.register(MonitoringIntegration)
class MonitoringIntegrationAdmin(PortalModelAdmin):
    """Tokens are issued here and shown once; only their hash is stored."""

    form = MonitoringIntegrationForm
    list_display = [
        "name",
        "token_hint",
        "is_active",
        "rate_limit_per_minute",
        "last_used_at",
    ]
    list_filter = ["is_active"]
    search_fields = ["name"]
    readonly_fields = ["token_hint", "last_used_at", "created_at"]
    actions = ["issue_new_token"]

    def _show_token(self, request, integration, token):
        self.message_user(
            request,
            format_html(
                "Token for {}: <code>{}</code> — copy it now; it is not shown "
                "again. The monitoring system sends it as "
                "<code>Authorization: Bearer …</code> to {}.",
                integration.name,
                token,
                reverse("comms:signal_api"),
            ),
            messages.WARNING,
        )

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        token = services.monitoring.issue_integration_token(integration=obj)
        self._show_token(request, obj, token)

    @admin.action(description="Issue a new token (the old one stops working)")
    def issue_new_token(self, request, queryset):
        for integration in queryset:
            token = services.monitoring.issue_integration_token(integration=integration)
            self._show_token(request, integration, token)
