from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from import_export.admin import ImportExportModelAdmin

from portal.admin_site import (
    PortalModelAdmin,
    PortalStackedInline,
    PortalTabularInline,
)
from portal.forms import PortalModelForm

from . import services
from .admin_forms import DURATION_HINT, FriendlyFieldsMixin, format_duration
from .models import (
    ActionItem,
    BusinessCalendar,
    Category,
    ChecklistTemplate,
    ChecklistTemplateItem,
    CommunicationPlanTemplate,
    CommunicationPlanTemplateRow,
    CommunicationPlanTemplateSection,
    Customer,
    Holiday,
    Incident,
    IncidentChecklist,
    IncidentChecklistItem,
    PlanSection,
    Policy,
    PolicyTarget,
    PostMortem,
    PostMortemTimelineRow,
    RegulatoryRegime,
    SecurityContact,
    SecurityPhase,
    SecurityResponse,
    SeverityCriterion,
    Signal,
    StaffProfile,
    TimelineEvent,
)
from .resources import CustomerResource


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
        (None, {"fields": ["name", "description", "make_default", "calendar"]}),
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
        ("Writing", {"fields": ["language_standards", "post_incident_tone"]}),
        # Automation (issue 14).
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
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Signal)
class SignalAdmin(PortalModelAdmin):
    list_display = ["code", "description", "priority", "category", "is_active"]
    list_filter = ["is_active", "priority"]
    list_select_related = ["category"]
    search_fields = ["code", "description"]


@admin.register(Customer)
class CustomerAdmin(FriendlyFieldsMixin, ImportExportModelAdmin, PortalModelAdmin):
    list_display = [
        "name",
        "company",
        "email",
        "account_id",
        "segment",
        "account_status",
        "is_vip",
        "policy",
    ]
    list_filter = [
        "segment",
        "account_status",
        "relationship_status",
        "is_vip",
        "policy",
    ]
    list_select_related = ["policy"]
    search_fields = ["=account_id", "name", "=email", "company"]
    autocomplete_fields = ["policy", "success_manager"]
    show_full_result_count = False
    resource_classes = [CustomerResource]
    fieldsets = [
        (None, {"fields": ["name", "email", "account_id", "policy"]}),
        (
            "Account",
            {
                "fields": [
                    "segment",
                    "account_status",
                    "is_vip",
                    "customer_since_on",
                    "phone",
                    "old_carrier_account",
                    "time_zone",
                ]
            },
        ),
        (
            "Organisation and contract",
            {
                "fields": [
                    "company",
                    "contact_name",
                    "contact_title",
                    "package_level",
                    ("annual_contract_value", "contract_currency"),
                    "relationship_status",
                    "success_manager",
                    "renewal_on",
                ]
            },
        ),
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Allowed (the record may lag the contract), but worth a look.
        if obj.renewal_on and obj.renewal_on < timezone.localdate():
            self.message_user(
                request,
                f"The contract renewal date of {obj} ({obj.renewal_on:%-d %b %Y}) "
                "is in the past; update it if the contract was renewed.",
                messages.WARNING,
            )

    def get_export_resource_kwargs(self, request, **kwargs):
        return {
            **super().get_export_resource_kwargs(request, **kwargs),
            "full_account_numbers": request.user.has_perm(
                "incidents.view_full_account_numbers"
            ),
        }


class TimelineEventInline(PortalTabularInline):
    model = TimelineEvent
    fields = ["created_at", "kind", "actor", "details"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(PortalModelAdmin):
    """Viewable in the admin, changed only through the portal's services."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    """Read-only here: incidents change through the portal's own pages, which
    keep the timeline complete."""

    list_display = ["__str__", "priority", "status", "customer", "owner", "created_at"]
    list_filter = ["status", "priority", "category"]
    list_select_related = ["customer", "owner"]
    search_fields = ["title", "=customer__account_id"]
    autocomplete_fields = ["customer", "owner", "created_by"]
    show_full_result_count = False
    inlines = [TimelineEventInline]


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "incident", "kind", "actor"]
    list_filter = ["kind"]
    list_select_related = ["incident", "actor"]
    search_fields = ["=incident__id"]
    autocomplete_fields = ["incident", "actor"]
    show_full_result_count = False


@admin.register(StaffProfile)
class StaffProfileAdmin(FriendlyFieldsMixin, PortalModelAdmin):
    list_display = ["user", "time_zone"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]


# ---------------------------------------------------------------------------
# Closure checklists (issue 13, part A)
# ---------------------------------------------------------------------------


class ChecklistTemplateItemInline(PortalTabularInline):
    model = ChecklistTemplateItem
    fields = [
        "position",
        "group",
        "text",
        "is_required",
        "condition",
        "evidence",
        "audience",
        "wait_hours",
        "is_active",
    ]
    extra = 0


@admin.register(ChecklistTemplate)
class ChecklistTemplateAdmin(PortalModelAdmin):
    list_display = [
        "name",
        "policy",
        "condition",
        "attaches_on_resolve",
        "gates_closed_pending",
        "is_active",
    ]
    list_filter = ["policy", "condition", "is_active"]
    list_select_related = ["policy"]
    search_fields = ["name"]
    autocomplete_fields = ["policy"]
    inlines = [ChecklistTemplateItemInline]


class IncidentChecklistItemInline(PortalTabularInline):
    model = IncidentChecklistItem
    fields = [
        "group",
        "text",
        "state",
        "settled_by",
        "settled_at",
        "evidence_text",
        "not_applicable_reason",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(IncidentChecklist)
class IncidentChecklistAdmin(ReadOnlyAdmin):
    """Worked on the incident's Closure tab, where each change is recorded."""

    list_display = ["name", "incident", "attached_at"]
    list_select_related = ["incident"]
    search_fields = ["=incident__id", "name"]
    autocomplete_fields = ["incident", "template"]
    inlines = [IncidentChecklistItemInline]


@admin.action(
    description="Close the selected incidents (each must pass its checklist)",
    permissions=["close"],
)
def close_selected_incidents(modeladmin, request, queryset):
    closed, refused = 0, []
    for incident in queryset:
        try:
            services.close_incident(incident=incident, actor=request.user)
        except ValidationError as exc:
            refused.append(f"{incident.reference}: {' '.join(exc.messages)}")
        else:
            closed += 1
    if closed:
        modeladmin.message_user(request, f"{closed} closed.", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.ERROR)


def _has_close_permission(self, request):
    return request.user.has_perm("incidents.change_incident_status")


# Status never changes by editing the row here (the admin is read-only);
# closing from the admin is this action, through the same close guard.
IncidentAdmin.actions = [*IncidentAdmin.actions, close_selected_incidents]
IncidentAdmin.has_close_permission = _has_close_permission
IncidentAdmin.list_filter = [*IncidentAdmin.list_filter, "archived_at"]


# --- Post-mortems (issue 13 part B) ------------------------------------------


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


# --- Communication plans (issue 13 part B: seed 003) -------------------------


class CommunicationPlanTemplateSectionInline(PortalTabularInline):
    model = CommunicationPlanTemplateSection
    fields = ["section", "heading", "guidance", "position", "rows_link"]
    readonly_fields = ["rows_link"]
    extra = 0
    max_num = len(PlanSection.choices)

    @admin.display(description="Default rows")
    def rows_link(self, section):
        if not section.pk:
            return "Save first, then add rows."
        return format_html(
            '<a href="{}">Edit rows</a>',
            reverse(
                "admin:incidents_communicationplantemplatesection_change",
                args=[section.pk],
            ),
        )


@admin.register(CommunicationPlanTemplate)
class CommunicationPlanTemplateAdmin(PortalModelAdmin):
    """The plan new major incidents start from: sections and default rows."""

    list_display = ["name", "category", "review_cycle", "is_default"]
    list_filter = ["is_default"]
    search_fields = ["name"]
    inlines = [CommunicationPlanTemplateSectionInline]


class CommunicationPlanTemplateRowInline(PortalTabularInline):
    model = CommunicationPlanTemplateRow
    fields = ["position", "item", "details", "owner", "key"]
    extra = 1


@admin.register(CommunicationPlanTemplateSection)
class CommunicationPlanTemplateSectionAdmin(PortalModelAdmin):
    list_display = ["heading", "template", "section", "position"]
    list_filter = ["template"]
    list_select_related = ["template"]
    search_fields = ["heading"]
    inlines = [CommunicationPlanTemplateRowInline]


# --- Security incident response (issue 13 part B: seed 004) -----------------


@admin.register(RegulatoryRegime)
class RegulatoryRegimeAdmin(FriendlyFieldsMixin, PortalModelAdmin):
    """Breach-notification laws a responder can start a clock for."""

    list_display = ["name", "notify_whom", "deadline_text", "is_active", "position"]
    list_filter = ["is_active"]
    search_fields = ["name", "key"]


@admin.register(SecurityContact)
class SecurityContactAdmin(FriendlyFieldsMixin, PortalModelAdmin):
    """Who is told at once of a security incident (004 step 1).

    A flagged incident copies the active contacts; changing them here
    changes the next incident's list, not the lists already made.
    """

    list_display = ["label", "contact", "is_active", "position"]
    list_editable = ["is_active", "position"]
    list_filter = ["is_active"]
    search_fields = ["label", "contact", "key"]


class SecurityPhaseInline(PortalTabularInline):
    model = SecurityPhase
    fields = ["kind", "starts_at", "due_at", "done_at", "done_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SecurityResponse)
class SecurityResponseAdmin(PortalModelAdmin):
    """Security responses, read only: they are worked on the incident's page."""

    list_display = ["incident", "incident_type", "detected_at", "legal_approved_at"]
    list_filter = ["incident_type"]
    list_select_related = ["incident"]
    search_fields = ["incident__title"]
    inlines = [SecurityPhaseInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
