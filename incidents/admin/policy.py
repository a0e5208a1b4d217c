"""Admin for policies and what they set: calendars, targets, severity criteria,
categories and signals."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from portal.admin_site import (
    PortalModelAdmin,
    PortalStackedInline,
    PortalTabularInline,
)
from portal.forms import PortalModelForm

from .. import services
from ..admin_forms import DURATION_HINT, FriendlyFieldsMixin, format_duration
from ..models import (
    BusinessCalendar,
    Category,
    Holiday,
    Policy,
    PolicyTarget,
    SeverityCriterion,
    Signal,
)


class HolidayInline(PortalTabularInline):
    model = Holiday
    extra = 1


WEEKDAY_SHORT = dict(
    zip("1234567", ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], strict=True)
)


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(FriendlyFieldsMixin, PortalModelAdmin):
    list_display = ["name", "time_zone", "working_days"]
    search_fields = ["name"]
    inlines = [HolidayInline]

    @admin.display(description="Working days", ordering="working_weekdays")
    def working_days(self, calendar):
        days = sorted(calendar.working_weekdays)
        if days == list("12345"):
            return "Monday to Friday"
        return ", ".join(WEEKDAY_SHORT[d] for d in days)


class SeverityCriterionInline(PortalTabularInline):
    model = SeverityCriterion
    fields = ["priority", "text", "position", "is_active"]
    extra = 0
    verbose_name_plural = (
        "Severity criteria (the incident form suggests the highest priority "
        "among those ticked)"
    )


class PolicyTargetInline(FriendlyFieldsMixin, PortalStackedInline):
    """One block per priority, cadences grouped, so it fits a laptop screen."""

    model = PolicyTarget
    extra = 0
    max_num = 4
    classes = ["policy-targets"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "priority",
                    "first_response_minutes",
                    "resolution_minutes",
                    "resolution_business_days",
                ],
                "description": DURATION_HINT,
            },
        ),
        (
            "At-risk windows",
            {
                "fields": [
                    "first_response_at_risk_minutes",
                    "resolution_at_risk_minutes",
                ]
            },
        ),
        (
            "Updates and escalation",
            {
                "fields": [
                    "internal_update_minutes",
                    "customer_update_minutes",
                    "partner_update_minutes",
                    "no_response_escalation_minutes",
                    "no_response_from",
                    "manager_notify_minutes",
                    "notifies_executives",
                ]
            },
        ),
        ("After resolving", {"fields": ["monitoring_window_minutes"]}),
        ("Tone at this priority", {"fields": ["tone_guidance"]}),
    ]

    class Media:
        css = {"all": ["css/admin-widgets.css"]}


class PolicyAdminForm(PortalModelForm):
    """The default flag moves through a service, never by unticking it."""

    make_default = forms.BooleanField(
        required=False,
        label="Default policy",
        help_text="Applies to customers that have no policy of their own. "
        "Ticking it here makes this the default in place of the current one.",
    )

    class Meta:
        model = Policy
        # Every field but is_default, which only the service changes.
        fields = [
            "name",
            "description",
            "team_name",
            "calendar",
            "enterprise_response_factor",
            "standard_response_factor",
            "trial_response_factor",
            "at_risk_minutes",
            "archive_after_days",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["make_default"].initial = self.instance.is_default

    def clean_make_default(self):
        make_default = self.cleaned_data["make_default"]
        if self.instance.is_default and not make_default:
            raise ValidationError(
                "Every customer without a policy of their own uses the default "
                "one, so it cannot be unticked. Make another policy the default "
                "instead.",
                code="default_required",
            )
        return make_default


@admin.register(Policy)
class PolicyAdmin(FriendlyFieldsMixin, PortalModelAdmin):
    form = PolicyAdminForm
    list_display = [
        "name",
        "is_default",
        "calendar",
        "at_risk_window",
        "targets_summary",
    ]
    list_filter = ["is_default"]
    list_select_related = ["calendar"]
    search_fields = ["name"]
    autocomplete_fields = ["calendar"]
    inlines = [PolicyTargetInline, SeverityCriterionInline]
    actions = ["make_default_policy"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "description",
                    "team_name",
                    "make_default",
                    "calendar",
                ]
            },
        ),
        (
            "Segments and clocks",
            {
                "fields": [
                    (
                        "enterprise_response_factor",
                        "standard_response_factor",
                        "trial_response_factor",
                    ),
                    "at_risk_minutes",
                ],
                "description": DURATION_HINT,
            },
        ),
        ("Closing", {"fields": ["archive_after_days"]}),
        (
            "Writing",
            {
                "fields": [
                    "language_standards",
                    "phrases_to_use",
                    "phrases_to_avoid",
                    "post_incident_tone",
                ]
            },
        ),
        # Automation.
        (
            "Replies and signals",
            {"fields": ["confirmation_keywords", "systemic_threshold"]},
        ),
        (
            "Auto-close rules",
            {
                "fields": [
                    "check_in_after_resolved_minutes",
                    "close_after_check_in_minutes",
                    "close_pending_after_minutes",
                ],
                "description": "Quiet incidents close by these rules, only once "
                "the monitoring window has passed and the closure checklist allows.",
            },
        ),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("targets", queryset=PolicyTarget.objects.order_by("priority"))
            )
        )

    @admin.display(description="At-risk window", ordering="at_risk_minutes")
    def at_risk_window(self, policy):
        return format_duration(policy.at_risk_minutes)

    @admin.display(description="Response / resolution")
    def targets_summary(self, policy):
        return format_html_join(
            mark_safe("<br>"),
            "{} {} / {}",
            (
                (
                    t.priority,
                    format_duration(t.first_response_minutes),
                    format_duration(t.resolution_minutes)
                    if t.resolution_minutes is not None
                    else f"{t.resolution_business_days} business days",
                )
                for t in policy.targets.all()
            ),
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("make_default") and not obj.is_default:
            services.choose_default_policy(policy=obj)
            self.message_user(
                request, f"“{obj}” is now the default policy.", messages.SUCCESS
            )

    def has_delete_permission(self, request, obj=None):
        # Deleting the default would leave new incidents without a policy.
        if obj is not None and obj.is_default:
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        if queryset.filter(is_default=True).exists():
            self.message_user(
                request,
                "The default policy was kept: make another policy the default "
                "before deleting it.",
                messages.WARNING,
            )
        super().delete_queryset(request, queryset.exclude(is_default=True))

    @admin.action(description="Make the selected policy the default")
    def make_default_policy(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request, "Pick exactly one policy to make the default.", messages.ERROR
            )
            return
        policy = queryset.get()
        services.choose_default_policy(policy=policy)
        self.message_user(
            request, f"“{policy}” is now the default policy.", messages.SUCCESS
        )


@admin.register(Category)
class CategoryAdmin(PortalModelAdmin):
    list_display = ["name", "slug", "is_active", "position"]
    list_editable = ["is_active", "position"]
    list_filter = ["is_active", "policies"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["policies"]


@admin.register(Signal)
class SignalAdmin(PortalModelAdmin):
    list_display = ["code", "description", "priority", "category", "is_active"]
    list_filter = ["is_active", "priority"]
    list_select_related = ["category"]
    search_fields = ["code", "description"]
